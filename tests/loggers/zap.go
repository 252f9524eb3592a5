// Real zap production JSON output for tests/app_loggers.rs (Debian golang-go.uber-zap-dev).
package main

import (
	"errors"

	"go.uber.org/zap"
)

func main() {
	logger, err := zap.NewProduction()
	if err != nil {
		panic(err)
	}
	defer logger.Sync()
	logger.Named("shop").Info("user login", zap.Int("user_id", 5), zap.String("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"), zap.String("span_id", "00f067aa0ba902b7"))
	logger.Warn("slow request", zap.Duration("took", 1500000000))
	logger.Error("save failed", zap.Error(errors.New("disk full")))
}

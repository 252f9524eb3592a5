// Real x/exp/slog JSON output for tests/app_loggers.rs (Debian golang-golang-x-exp-dev).
package main

import (
	"os"

	"golang.org/x/exp/slog"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout))
	logger.Info("user login", "user_id", 5, "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")
	logger.Warn("slow request")
	logger.Error("save failed", os.ErrNotExist)
}

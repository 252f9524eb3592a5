// Real logrus JSON output for tests/app_loggers.rs (Debian golang-github-sirupsen-logrus-dev).
package main

import (
	"errors"
	"os"

	"github.com/sirupsen/logrus"
)

func main() {
	log := logrus.New()
	log.Out = os.Stdout
	log.Formatter = &logrus.JSONFormatter{}
	log.Level = logrus.DebugLevel
	log.WithFields(logrus.Fields{"user_id": 5, "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}).Info("user login")
	log.Warn("slow request")
	log.WithField("logger", "shop").WithError(errors.New("disk full")).Error("save failed")
}

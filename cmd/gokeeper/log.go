package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// ErrLogLevel is wrapped by NewLogger's error for a level it does not know.
var ErrLogLevel = errors.New("gokeeper: unknown log level")

// logLevels maps the level names gokeeper accepts, zerolog's and log4j's
// (ZooKeeper's zookeeper.root.logger uses the latter), to zerolog levels.
var logLevels = map[string]zerolog.Level{
	"":         zerolog.InfoLevel,
	"trace":    zerolog.TraceLevel,
	"debug":    zerolog.DebugLevel,
	"info":     zerolog.InfoLevel,
	"warn":     zerolog.WarnLevel,
	"warning":  zerolog.WarnLevel,
	"error":    zerolog.ErrorLevel,
	"fatal":    zerolog.FatalLevel,
	"panic":    zerolog.PanicLevel,
	"disabled": zerolog.Disabled,
	"off":      zerolog.Disabled,
}

// NewLogger returns the process logger writing to w: one JSON object per
// line when json is true (for log shippers), otherwise zerolog's
// human-readable console format, coloured only when w is a terminal.
// level is a case-insensitive name such as "info", "DEBUG" or "warn";
// empty means info. Every line carries a timestamp.
func NewLogger(w io.Writer, json bool, level string) (zerolog.Logger, error) {
	lvl, ok := logLevels[strings.ToLower(strings.TrimSpace(level))]
	if !ok {
		return zerolog.Nop(), fmt.Errorf("%w: %q (want trace, debug, info, warn, error or off)", ErrLogLevel, level)
	}
	out := w
	if !json {
		noColor := true
		if f, isFile := w.(*os.File); isFile && isatty.IsTerminal(f.Fd()) {
			noColor = false
		}
		out = zerolog.ConsoleWriter{Out: w, NoColor: noColor, TimeFormat: time.RFC3339Nano}
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), nil
}

// LogConfigNotes logs, once at start-up, what LoadConfig adjusted or
// ignored (unknown keys, raised minimums), as ZooKeeper logs them.
func LogConfigNotes(log zerolog.Logger, notes []string) {
	for _, n := range notes {
		log.Warn().Msg(n)
	}
}

package storage

import "log/slog"

// orDiscard returns l, or a logger that drops everything for nil: both
// backends take a nil Logger to mean no logging.
func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

package storage

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
)

// What S3 logs, with S3Config.Logger: at Debug, each failed attempt of a
// request with its error (the SDK's retryer then says whether it retries),
// each retry, each region lookup and each aborted multipart upload; at Warn,
// a multipart upload whose abort failed, whose parts stay stored. Requests
// are named by operation, bucket and key: never a credential, a signature
// or a presigned URL.

// sdkLogger hands the SDK's own log lines (its retries, with
// aws.LogRetries) to an slog.Logger.
type sdkLogger struct{ l *slog.Logger }

func (s sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	s.l.Log(context.Background(), level, "s3: "+fmt.Sprintf(format, v...))
}

// logAttempts returns an SDK option that logs every failed attempt of a
// request at Debug, from inside the retry loop, so that a retry's reason is
// in the log beside the SDK's "retrying request" line.
func logAttempts(l *slog.Logger) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("storage.logAttempts",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleFinalize(ctx, in)
				if err != nil && l.Enabled(ctx, slog.LevelDebug) {
					l.DebugContext(ctx, "s3: attempt failed", "operation", awsmiddleware.GetOperationName(ctx), "error", err)
				}
				return out, md, err
			}), "Retry", middleware.After)
	}
}

// withLogging sets cfg to log to l.
func withLogging(cfg *aws.Config, l *slog.Logger) {
	cfg.Logger = sdkLogger{l}
	cfg.ClientLogMode |= aws.LogRetries
	cfg.APIOptions = append(cfg.APIOptions, logAttempts(l))
}

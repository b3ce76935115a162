package storage

import (
	"context"
	"net/http"
)

// SendThrough makes s send its requests through c. Call it before s's
// first request, which makes the SDK clients.
func SendThrough(s *S3, c interface {
	Do(*http.Request) (*http.Response, error)
}) {
	s.awsCfg.HTTPClient = c
}

// IsPrivate reports whether key is stored private on s, and whether s can tell.
func IsPrivate(ctx context.Context, s Storage, key string) (private, known bool, err error) {
	return privacy(ctx, s, key)
}

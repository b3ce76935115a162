package storage

import (
	"cmp"
	"fmt"
	"os"
)

// localFromEnv returns the Local that FromEnv chooses when no S3 variable is
// set: STORAGE_DIR, STORAGE_URL and STORAGE_SIGNING_KEY.
func localFromEnv() (*Local, error) {
	opts := &LocalOptions{BaseURL: os.Getenv(envURL)}
	if opts.BaseURL != "" {
		if err := checkBaseURL(envURL, opts.BaseURL, true); err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
	}
	if key := os.Getenv(envSigningKey); key != "" {
		if len(key) < minSigningKeyLen {
			return nil, fmt.Errorf("storage: %s is %d bytes long; use at least %d random bytes, e.g. from `openssl rand -hex 32`",
				envSigningKey, len(key), minSigningKeyLen)
		}
		opts.SigningKey = NewSecret(key)
	}
	l, err := NewLocal(cmp.Or(os.Getenv(envDir), "static/media"), opts)
	if err != nil {
		return nil, err
	}
	l.signingKeyName = envSigningKey
	return l, nil
}

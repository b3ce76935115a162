package storage

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"
)

// The environment variables FromEnv reads. Only this file reads the environment.
const (
	envBucket     = "BUCKET_NAME"
	envKey        = "AWS_KEY"
	envSecret     = "AWS_SECRET"
	envRegion     = "AWS_REGION"
	envRegionOld  = "AWS_DEFAULT_REGION"
	envEndpointS3 = "AWS_ENDPOINT_URL_S3"
	envEndpoint   = "AWS_ENDPOINT_URL"
	envACL        = "STORAGE_ACL"
	envDir        = "STORAGE_DIR"
	envURL        = "STORAGE_URL"
	envSigningKey = "STORAGE_SIGNING_KEY"
)

// EnvVar is an environment variable that FromEnv reads, as [Env] reports it.
type EnvVar struct {
	Name  string
	Value string // "" when unset; "[redacted]" for a secret that is set
	Usage string
}

// envUsage documents every variable; the README's table says the same.
var envUsage = [...]struct{ name, usage string }{
	{envBucket, "S3 bucket; with AWS_KEY and AWS_SECRET selects S3"},
	{envKey, "S3 access key ID"},
	{envSecret, "S3 secret access key (never printed)"},
	{envRegion, "S3 region; unset: detected from the bucket"},
	{envRegionOld, "S3 region, when AWS_REGION is unset"},
	{envEndpointS3, "S3-compatible server, e.g. MinIO; unset: AWS"},
	{envEndpoint, "S3-compatible server, when AWS_ENDPOINT_URL_S3 is unset"},
	{envACL, "canned ACL for new S3 objects, e.g. public-read; unset: none"},
	{envDir, "local directory; default static/media"},
	{envURL, "public base URL of the objects; local default /static/media/"},
	{envSigningKey, "secret for signed URLs of local files (never printed)"},
}

// Env reports the environment variables that FromEnv reads, in the order it
// considers them, with the values of secrets redacted. It is meant for
// diagnostics such as `orga-storage check`.
func Env() []EnvVar {
	vars := make([]EnvVar, len(envUsage))
	for i, u := range envUsage {
		v := os.Getenv(u.name)
		if (u.name == envSecret || u.name == envSigningKey) && v != "" {
			v = redacted
		}
		vars[i] = EnvVar{Name: u.name, Value: v, Usage: u.usage}
	}
	return vars
}

// FromEnv returns the storage that the environment configures, as orga-server
// does at startup:
//
//   - BUCKET_NAME, AWS_KEY and AWS_SECRET all set: [S3], further configured
//     by AWS_REGION (or AWS_DEFAULT_REGION), AWS_ENDPOINT_URL_S3 (or
//     AWS_ENDPOINT_URL), STORAGE_URL and STORAGE_ACL;
//   - none of them set: [Local] in STORAGE_DIR (default static/media, created
//     if missing), with URLs under STORAGE_URL (default /static/media/) and
//     signed by STORAGE_SIGNING_KEY.
//
// One or two of the three set is a misconfiguration: the error names the
// variables that are missing, and never prints a value. So is one of them
// with white space at either end, which no bucket name or key holds but a
// value copied from a secrets file often does. FromEnv does no network I/O.
func FromEnv() (Storage, error) {
	var set, missing, padded []string
	for _, name := range []string{envBucket, envKey, envSecret} {
		v := os.Getenv(name)
		if v != "" {
			set = append(set, name)
		} else {
			missing = append(missing, name)
		}
		if strings.TrimSpace(v) != v {
			padded = append(padded, name)
		}
	}
	if len(padded) > 0 {
		return nil, fmt.Errorf("storage: %s %s white space at the start or end (a line break copied from a secrets file?); remove it",
			strings.Join(padded, " and "), agree(padded, "has", "have"))
	}
	// The backends are returned through a variable of the interface type
	// only when there is no error: a nil *Local in a Storage is no nil
	// Storage, and a caller checking st == nil would take it for a backend.
	var st Storage
	switch len(set) {
	case 0:
		l, err := localFromEnv()
		if err != nil {
			return nil, err
		}
		st = l
	case 3:
		// Checked here too, so that the error names the variable to fix.
		for _, name := range []string{envURL, envEndpointS3, envEndpoint} {
			if v := os.Getenv(name); v != "" {
				if err := checkBaseURL(name, v, false); err != nil {
					return nil, fmt.Errorf("storage: %w", err)
				}
			}
		}
		s, err := NewS3(context.Background(), S3Config{
			Bucket:    os.Getenv(envBucket),
			AccessKey: os.Getenv(envKey),
			SecretKey: NewSecret(os.Getenv(envSecret)),
			Region:    cmp.Or(os.Getenv(envRegion), os.Getenv(envRegionOld)),
			Endpoint:  cmp.Or(os.Getenv(envEndpointS3), os.Getenv(envEndpoint)),
			PublicURL: os.Getenv(envURL),
			ACL:       os.Getenv(envACL),
		})
		if err != nil {
			return nil, err
		}
		st = s
	default:
		return nil, fmt.Errorf("storage: S3 is half configured: %s %s set but %s %s not; set all three of %s, %s and %s to use S3, or none to store files on local disk",
			strings.Join(set, " and "), agree(set, "is", "are"), strings.Join(missing, " and "), agree(missing, "is", "are"), envBucket, envKey, envSecret)
	}
	return st, nil
}

// agree returns the verb form that agrees with the number of names.
func agree(names []string, one, many string) string {
	if len(names) == 1 {
		return one
	}
	return many
}

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
	return NewLocal(cmp.Or(os.Getenv(envDir), "static/media"), opts)
}

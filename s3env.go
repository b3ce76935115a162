package storage

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// S3FromEnv returns an S3 on bucket configured by FromEnv's variables,
// BUCKET_NAME aside (and STORAGE_URL unless bucket is BUCKET_NAME's), for work
// on other buckets of the same account, as `orga-storage sync` does. Its
// errors are FromEnv's; it does no network I/O.
func S3FromEnv(bucket string) (*S3, error) {
	var padded []string
	for _, name := range []string{envKey, envSecret} {
		if v := os.Getenv(name); strings.TrimSpace(v) != v {
			padded = append(padded, name)
		}
	}
	chain, err := envChain(padded)
	if err != nil {
		return nil, err
	}
	var set, missing []string
	for _, name := range []string{envKey, envSecret} {
		if os.Getenv(name) != "" {
			set = append(set, name)
		} else {
			missing = append(missing, name)
		}
	}
	switch {
	case chain && len(set) > 0:
		return nil, fmt.Errorf("storage: %s=default takes the credentials from the AWS default chain, and needs %s and %s unset; %s",
			envCreds, envKey, envSecret, describeSet(set, missing))
	case chain:
		return s3ChainFromEnv(bucket)
	case len(missing) > 0:
		return nil, fmt.Errorf("storage: S3 bucket %q needs credentials: %s; set %s and %s, or %s=default for the AWS default credential chain (instance or task role, web identity)",
			bucket, describeSet(set, missing), envKey, envSecret, envCreds)
	}
	return s3KeysFromEnv(bucket)
}

// s3ChainFromEnv returns the S3 on bucket with the credentials of the AWS
// default chain.
func s3ChainFromEnv(bucket string) (*S3, error) {
	return s3FromEnv(S3Config{Bucket: bucket}, sourceDefaultChain)
}

// s3KeysFromEnv returns the S3 on bucket with the keys of AWS_KEY,
// AWS_SECRET and AWS_SESSION_TOKEN.
func s3KeysFromEnv(bucket string) (*S3, error) {
	source := sourceEnvKeys
	if os.Getenv(envToken) != "" {
		source = sourceEnvKeysToken
	}
	return s3FromEnv(S3Config{
		Bucket:       bucket,
		AccessKey:    os.Getenv(envKey),
		SecretKey:    NewSecret(os.Getenv(envSecret)),
		SessionToken: NewSecret(os.Getenv(envToken)),
	}, source)
}

// s3FromEnv completes cfg, which holds the bucket and the credentials, with
// the other S3 variables; source names the credentials in messages.
func s3FromEnv(cfg S3Config, source string) (*S3, error) {
	var urls []string
	if cfg.Bucket == os.Getenv(envBucket) {
		urls = append(urls, envURL)
		cfg.PublicURL = os.Getenv(envURL)
	}
	urls = append(urls, envEndpointS3, envEndpoint)
	// Checked here too, so that the error names the variable to fix.
	for _, name := range urls {
		if v := os.Getenv(name); v != "" {
			if err := checkBaseURL(name, v, false); err != nil {
				return nil, fmt.Errorf("storage: %w", err)
			}
		}
	}
	cfg.Region = cmp.Or(os.Getenv(envRegion), os.Getenv(envRegionOld))
	cfg.Endpoint = cmp.Or(os.Getenv(envEndpointS3), os.Getenv(envEndpoint))
	cfg.ACL = os.Getenv(envACL)
	cfg.Addressing = os.Getenv(envAddressing)
	// The SDK reads its own variable in any case.
	cfg.RetryMode = aws.RetryMode(strings.ToLower(os.Getenv(envRetryMode)))
	cfg.ServerSideEncryption = os.Getenv(envSSE)
	cfg.KMSKeyID = os.Getenv(envKMSKey)
	cfg.StorageClass = os.Getenv(envClass)
	if v := os.Getenv(envAttempts); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("storage: %s must be a whole number of attempts, 1 or more (1: no retries)", envAttempts)
		}
		cfg.MaxAttempts = n
	}
	if err := checkS3Choices(cfg, s3EnvName); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if source == sourceDefaultChain {
		p, err := defaultChainCredentials(context.Background(), cmp.Or(cfg.Region, s3DefaultRegion), nil)
		if err != nil {
			return nil, fmt.Errorf("storage: %s=default: %w", envCreds, err)
		}
		cfg.Credentials = p
	}
	s, err := newS3(cfg, source)
	if err != nil {
		return nil, err
	}
	isBucketName := cfg.Bucket == os.Getenv(envBucket)
	s.named = func(field string) string {
		if field == "Bucket" && !isBucketName {
			return "the bucket name"
		}
		return s3EnvName(field)
	}
	return s, nil
}

// s3EnvName names the variable FromEnv reads field of S3Config from, for
// checkS3Choices and the backend's messages.
func s3EnvName(field string) string {
	switch field {
	case "Bucket":
		return envBucket
	case "Region":
		return envRegion
	case "AccessKey":
		return envKey
	case "SecretKey":
		return envSecret
	case "Addressing":
		return envAddressing
	case "MaxAttempts":
		return envAttempts
	case "RetryMode":
		return envRetryMode
	case "ServerSideEncryption":
		return envSSE
	case "KMSKeyID":
		return envKMSKey
	case "StorageClass":
		return envClass
	case "ACL":
		return envACL
	case "Endpoint":
		return "the endpoint (" + envEndpointS3 + " or " + envEndpoint + ")"
	}
	return field
}

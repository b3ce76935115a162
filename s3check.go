package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// This file holds the few diagnostics that `orga-storage check` needs and
// that the Storage interface has no place for.

// Config returns s's configuration with AccessKey, SecretKey and SessionToken
// unset and Credentials set to s's own cached provider, so that a NewS3 of it
// signs as s does. An undetected Region stays empty (see [S3.BucketRegion]).
func (s *S3) Config() S3Config {
	return S3Config{
		Bucket:               s.bucket,
		Credentials:          s.creds,
		Endpoint:             s.endpoint,
		PublicURL:            s.publicURL,
		Region:               s.region,
		ACL:                  s.acl,
		ServerSideEncryption: s.sse,
		KMSKeyID:             s.kmsKeyID,
		StorageClass:         s.storageClass,
		Addressing:           s.addressing,
		HTTPClient:           s.awsCfg.HTTPClient,
		MaxAttempts:          s.awsCfg.RetryMaxAttempts,
		RetryMode:            s.awsCfg.RetryMode,
		Logger:               s.log,
	}
}

// BucketRegion asks the server for the bucket's region (GetBucketLocation), even
// when the configuration names one, for diagnostics to compare. It changes
// nothing.
func (s *S3) BucketRegion(ctx context.Context) (string, error) {
	// AWS answers GetBucketLocation signed for us-east-1 for a bucket in any
	// region, and MinIO accepts any region for it.
	out, err := s.newClients(s3DefaultRegion).api.GetBucketLocation(ctx,
		&s3.GetBucketLocationInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		return "", fmt.Errorf("storage: bucket %q: %w", s.bucket, s.translate(ctx, err, "s3:GetBucketLocation"))
	}
	switch region := string(out.LocationConstraint); region {
	case "":
		return s3DefaultRegion, nil
	case "EU":
		return "eu-west-1", nil
	default:
		return region, nil
	}
}

// CheckCredentials reports whether the server accepts the credentials, whatever
// the bucket, with a ListBuckets: S3 checks the signature before the permission,
// so AccessDenied proves them valid. Use [S3ErrorCode] on other failures.
func (s *S3) CheckCredentials(ctx context.Context) error {
	_, err := s.newClients(s3DefaultRegion).api.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err == nil || S3ErrorCode(err) == "AccessDenied" {
		return nil
	}
	err = s.translate(ctx, err, "s3:ListAllMyBuckets")
	if unreachable(err) != nil {
		return fmt.Errorf("storage: %w", err) // no server answered: the credentials are not in question
	}
	return fmt.Errorf("storage: checking the credentials: %w", err)
}

// S3ErrorCode returns the code of the S3 error response behind err, such as
// "AccessDenied" or "SignatureDoesNotMatch", or "" for none (a network error).
func S3ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

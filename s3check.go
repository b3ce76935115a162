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

// Config returns the configuration of the backend without any secret:
// AccessKey, SecretKey and SessionToken are unset, and Credentials is the
// backend's own provider and cache, so that NewS3(ctx, s.Config()), with
// other settings changed or not, signs as s does. A Region left empty for
// detection stays empty here; see [S3.BucketRegion]. [S3.Credentials]
// describes the credentials.
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

// BucketRegion asks the server for the bucket's region with
// GetBucketLocation, even when the configuration names one, so that a
// diagnostic can compare the two. It does not change the region the backend
// uses. Access denied is reported as fs.ErrPermission naming
// s3:GetBucketLocation.
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

// CheckCredentials reports whether the server accepts the credentials,
// independently of the bucket. It sends ListBuckets, which the
// usual IAM policy does not grant: an AccessDenied answer proves the keys
// valid just as a listing does, because S3 checks the signature first. Any
// other failure (unknown key, wrong secret, clock skew, unreachable server)
// is returned; [S3ErrorCode] tells them apart.
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

// S3ErrorCode returns the error code of the S3 response behind err, such as
// "AccessDenied", "NoSuchBucket", "InvalidAccessKeyId" or
// "SignatureDoesNotMatch", or "" when err did not come from an S3 response
// (nil, a network failure, a cancelled context).
func S3ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

package storage

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// SignedPost presigns a SigV4 POST policy bounding the size, the key (or its
// prefix) and the Content-Type (or its prefix), with the configured ACL
// ("private" for opts.Private), encryption and storage class as form fields.
// S3 refuses a post outside it (400 EntityTooLarge for a file over MaxSize, else
// 403). The first call may look up the bucket's region.
func (s *S3) SignedPost(ctx context.Context, key string, opts *PostOptions) (PostForm, error) {
	spec, err := preparePost(key, opts, ValidateKey)
	if err != nil {
		return PostForm{}, wrapErr("sign", key, err)
	}
	c, err := s.api(ctx)
	if err != nil {
		return PostForm{}, wrapErr("sign", key, err)
	}
	fields := spec.formFields(key)
	conditions := []any{
		[]any{"content-length-range", spec.minSize, spec.maxSize},
		map[string]string{"success_action_status": postSuccessStatus},
	}
	if spec.keyPrefix {
		conditions = append(conditions, []any{"starts-with", "$key", key})
	} else {
		conditions = append(conditions, map[string]string{"key": key})
	}
	if spec.contentType != "" && !spec.typePrefix {
		conditions = append(conditions, map[string]string{"Content-Type": spec.contentType})
	} else {
		// A prefix, or "" for any type: S3 refuses a field no condition names.
		conditions = append(conditions, []any{"starts-with", "$Content-Type", spec.contentType})
	}
	if acl := s.objectACL(spec.private); acl != "" {
		conditions = append(conditions, map[string]string{"acl": acl})
		fields["acl"] = acl
	}
	// As Put sends them: a form must not store what a Put would not.
	for _, f := range [...]struct{ name, value string }{
		{"x-amz-server-side-encryption", s.sse},
		{"x-amz-server-side-encryption-aws-kms-key-id", s.kmsKeyID},
		{"x-amz-storage-class", s.storageClass},
	} {
		if f.value != "" {
			conditions = append(conditions, map[string]string{f.name: f.value})
			fields[f.name] = f.value
		}
	}
	req, err := c.presign.PresignPostObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
	}, func(o *s3.PresignPostOptions) {
		o.Expires = spec.expires
		o.Conditions = conditions
	})
	if err != nil {
		return PostForm{}, wrapErr("sign", key, err)
	}
	for name, value := range req.Values {
		fields[name] = value
	}
	return PostForm{URL: req.URL, Fields: fields}, nil
}

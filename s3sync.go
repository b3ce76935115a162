package storage

import (
	"context"
	"strings"
)

var _ syncBackend = (*S3)(nil)

func (s *S3) syncName() string { return "s3://" + s.bucket }

// syncMD5ETags is false under the SSE-KMS configured, where S3 makes an
// object's ETag of something other than its content's MD5; a bucket's
// default encryption shows only in the answers about an object (etagNote).
func (s *S3) syncMD5ETags() bool { return !strings.HasPrefix(s.sse, "aws:kms") }

func (s *S3) syncLocal() bool { return false }

// syncPrivate reads the object's ACL. With no ACL configured, Put sends
// none, private or not, and a bucket policy decides who reads an object:
// S3 cannot tell then.
func (s *S3) syncPrivate(ctx context.Context, key string) (private, known bool, err error) {
	if s.acl == "" {
		return false, false, nil
	}
	c, err := s.api(ctx)
	if err != nil {
		return false, false, wrapErr("stat", key, err)
	}
	private, err = s.isPrivate(ctx, c, key)
	if err != nil {
		return false, false, wrapErr("stat", key, err)
	}
	return private, true, nil
}

// syncStatsPrivate: Stat reads the ACL only when one is configured (see
// syncPrivate).
func (s *S3) syncStatsPrivate() bool { return s.acl != "" }

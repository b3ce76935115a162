package storage

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Get opens the object under key. Reading it to the end checks its MD5 where S3
// gives one (see S3).
func (s *S3) Get(ctx context.Context, key string) (*Reader, error) {
	r, err := s.get(ctx, key, 0, -1)
	return r, wrapErr("get", key, err)
}

// GetRange opens length bytes of the object from offset (see [Storage]).
func (s *S3) GetRange(ctx context.Context, key string, offset, length int64) (*Reader, error) {
	r, err := s.get(ctx, key, offset, length)
	return r, wrapErr("get range", key, err)
}

func (s *S3) get(ctx context.Context, key string, offset, length int64) (*Reader, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: negative offset %d", fs.ErrInvalid, offset)
	}
	c, err := s.api(ctx)
	if err != nil {
		return nil, err
	}
	if length == 0 {
		// No Range header can ask for nothing.
		info, err := s.stat(ctx, c, key)
		if err != nil {
			return nil, err
		}
		return &Reader{body: io.NopCloser(eofReader{}), info: info}, nil
	}
	if length > math.MaxInt64-offset {
		length = -1 // past any object's end: to the end
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	ranged := offset > 0 || length > 0
	if ranged {
		rng := fmt.Sprintf("bytes=%d-", offset)
		if length > 0 {
			rng += fmt.Sprint(offset + length - 1)
		}
		in.Range = aws.String(rng)
	}
	out, err := c.api.GetObject(ctx, in)
	if err != nil {
		if ranged && isInvalidRange(err) {
			// The range starts at or past the end: there is nothing to read,
			// which is not an error (see Storage.GetRange).
			info, err := s.stat(ctx, c, key)
			if err != nil {
				return nil, err
			}
			return &Reader{body: io.NopCloser(eofReader{}), info: info}, nil
		}
		return nil, s.translate(ctx, err, "s3:GetObject")
	}
	noteETag(ctx, md5Encryption(out.ServerSideEncryption, out.SSECustomerAlgorithm))
	info := Info{
		Key:                key,
		Size:               aws.ToInt64(out.ContentLength),
		ContentType:        aws.ToString(out.ContentType),
		ContentDisposition: aws.ToString(out.ContentDisposition),
		CacheControl:       aws.ToString(out.CacheControl),
		ETag:               aws.ToString(out.ETag),
		ModTime:            aws.ToTime(out.LastModified).UTC(),
		Metadata:           metadataFromHeaders(out.Metadata),
	}
	var body io.ReadCloser = out.Body
	if out.ContentRange != nil {
		total, ok := totalFromContentRange(*out.ContentRange)
		if !ok {
			out.Body.Close()
			return nil, fmt.Errorf("S3 answered with an unreadable Content-Range %q", *out.ContentRange)
		}
		info.Size = total
	} else if ranged {
		// The server ignored the Range and sent the whole object.
		var section io.Reader = out.Body
		if _, err := io.CopyN(io.Discard, out.Body, offset); err != nil && err != io.EOF {
			out.Body.Close()
			return nil, err
		}
		if length > 0 {
			section = io.LimitReader(out.Body, length)
		}
		body = readCloser{section, out.Body}
	} else if sum, ok := plainMD5(out); ok {
		body = &verifyingBody{body: out.Body, key: key, size: info.Size, want: sum, hash: newMD5()}
	}
	return &Reader{body: body, info: info}, nil
}

// totalFromContentRange reads the object size from "bytes 0-9/100".
func totalFromContentRange(cr string) (int64, bool) {
	i := strings.LastIndexByte(cr, '/')
	if i < 0 {
		return 0, false
	}
	var total int64
	if _, err := fmt.Sscan(cr[i+1:], &total); err != nil || total < 0 {
		return 0, false
	}
	return total, true
}

type readCloser struct {
	io.Reader
	io.Closer
}

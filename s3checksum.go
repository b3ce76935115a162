package storage

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func newMD5() hash.Hash { return md5.New() }

// plainMD5 returns the MD5 of an object's content when its ETag is one: S3
// makes the ETag the MD5 of objects uploaded in one request and stored plain
// or with SSE-S3, but not of multipart uploads ("…-3") or of objects
// encrypted with SSE-KMS or SSE-C.
func plainMD5(out *s3.GetObjectOutput) ([]byte, bool) {
	if !md5Encryption(out.ServerSideEncryption, out.SSECustomerAlgorithm) || out.ETag == nil {
		return nil, false
	}
	etag := strings.Trim(*out.ETag, `"`)
	if len(etag) != 2*md5.Size {
		return nil, false
	}
	sum, err := hex.DecodeString(etag)
	if err != nil {
		return nil, false
	}
	return sum, true
}

// verifyingBody checks, when the whole object has been read, that its bytes
// hash to the MD5 S3 stored; a mismatch replaces io.EOF with an error.
type verifyingBody struct {
	body io.ReadCloser
	key  string
	size int64
	want []byte
	hash hash.Hash
	n    int64
}

func (v *verifyingBody) Read(p []byte) (int, error) {
	n, err := v.body.Read(p)
	v.hash.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		switch {
		case v.n != v.size:
			return n, wrapErr("get", v.key, fmt.Errorf("read %d bytes of %d: %w", v.n, v.size, io.ErrUnexpectedEOF))
		case !bytes.Equal(v.hash.Sum(nil), v.want):
			return n, wrapErr("get", v.key, fmt.Errorf("data corrupted: the MD5 of the bytes read differs from the object's ETag"))
		}
	}
	return n, err
}

func (v *verifyingBody) Close() error { return v.body.Close() }

// md5Encryption reports whether S3 makes the ETags of objects stored with
// this encryption, as its answers name it, of their content's MD5: so plain
// or with SSE-S3, not with SSE-KMS or SSE-C.
func md5Encryption(sse types.ServerSideEncryption, customerAlgorithm *string) bool {
	return (sse == "" || sse == types.ServerSideEncryptionAes256) && customerAlgorithm == nil
}

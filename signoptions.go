package storage

import (
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"time"
)

// signSpec is a SignOptions checked and normalised: what both backends
// sign. Fields that do not apply to the method are empty.
type signSpec struct {
	method  string
	expires time.Duration

	// PUT only.
	contentType   string
	private       bool
	contentLength int64 // 0 = any length
	contentMD5    string

	// GET only.
	responseDisposition string
	responseType        string
}

// maxSignedPutSize is the largest single PUT that S3 accepts, and so the
// largest ContentLength any backend signs.
const maxSignedPutSize = 5 << 30

// parseSignOptions checks opts before any I/O. The error matches
// fs.ErrInvalid: a method other than GET and PUT, a negative expiry or one
// over 7 days, a content type that is not one media type, a negative or
// too large ContentLength, a ContentMD5 that is not base64 of 16 bytes,
// response overrides on a PUT or upload bounds on a GET.
func parseSignOptions(opts *SignOptions) (signSpec, error) {
	spec := signSpec{method: http.MethodGet, expires: 15 * time.Minute}
	if opts == nil {
		return spec, nil
	}
	if opts.Method != "" {
		spec.method = opts.Method
	}
	if opts.Expires != 0 {
		spec.expires = opts.Expires
	}
	switch {
	case spec.method != http.MethodGet && spec.method != http.MethodPut:
		return signSpec{}, fmt.Errorf("%w: cannot sign method %q, only GET and PUT", fs.ErrInvalid, spec.method)
	case spec.expires < 0:
		return signSpec{}, fmt.Errorf("%w: negative expiry %v", fs.ErrInvalid, spec.expires)
	case spec.expires > maxSignExpiry:
		return signSpec{}, fmt.Errorf("%w: expiry %v is more than 7 days", fs.ErrInvalid, spec.expires)
	}
	// URLs carry whole seconds: rounding down would make 500ms a URL that
	// is dead on arrival.
	spec.expires = (spec.expires + time.Second - 1).Truncate(time.Second)

	if spec.method == http.MethodPut {
		if opts.ResponseContentDisposition != "" || opts.ResponseContentType != "" {
			return signSpec{}, fmt.Errorf("%w: response overrides sign a GET, not a PUT", fs.ErrInvalid)
		}
		if err := checkContentType(opts.ContentType); err != nil {
			return signSpec{}, err
		}
		if opts.ContentLength < 0 || opts.ContentLength > maxSignedPutSize {
			return signSpec{}, fmt.Errorf("%w: content length %d is not between 0 and 5 GiB", fs.ErrInvalid, opts.ContentLength)
		}
		if opts.ContentMD5 != "" {
			if err := checkContentMD5(opts.ContentMD5); err != nil {
				return signSpec{}, err
			}
		}
		spec.contentType, spec.private = opts.ContentType, opts.Private
		spec.contentLength, spec.contentMD5 = opts.ContentLength, opts.ContentMD5
		return spec, nil
	}
	// A GET ignores ContentType and Private, as it always has, but refuses
	// upload bounds, which would look like a check and check nothing.
	if opts.ContentLength != 0 || opts.ContentMD5 != "" {
		return signSpec{}, fmt.Errorf("%w: ContentLength and ContentMD5 sign a PUT, not a GET", fs.ErrInvalid)
	}
	if d := opts.ResponseContentDisposition; d != "" && !isHeaderValue(d) {
		return signSpec{}, fmt.Errorf("%w: response content disposition %q must be printable ASCII, with no space at either end (a name that is not ASCII goes in filename*)", fs.ErrInvalid, d)
	}
	if err := checkContentType(opts.ResponseContentType); err != nil {
		return signSpec{}, err
	}
	spec.responseDisposition, spec.responseType = opts.ResponseContentDisposition, opts.ResponseContentType
	return spec, nil
}

// checkContentMD5 accepts the standard base64 of 16 bytes, padded, as the
// Content-MD5 header carries it.
func checkContentMD5(md5 string) error {
	sum, err := base64.StdEncoding.Strict().DecodeString(md5)
	if err != nil || len(sum) != 16 {
		return fmt.Errorf("%w: content MD5 %q is not the base64 of 16 bytes", fs.ErrInvalid, md5)
	}
	return nil
}

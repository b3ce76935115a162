package storage

import (
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// PostOptions bounds a browser form upload ([Storage.SignedPost]). MaxSize is
// required, so nil is invalid.
type PostOptions struct {
	Expires     time.Duration // as SignOptions.Expires
	MaxSize     int64         // required, > 0: larger uploads are refused, nothing stored
	MinSize     int64
	ContentType string // exact type, or a prefix ending in "/" such as "image/"
	KeyPrefix   bool   // key is a prefix: the form's "key" field may be any valid key under it
	Private     bool   // as PutOptions.Private
}

// PostForm is what a page needs for <form method="post"
// enctype="multipart/form-data">: post to URL every field in Fields, then the
// file, last, in a field named "file". For a key prefix, the page replaces
// Fields["key"] with a key under it; for a ContentType prefix, it adds a
// "Content-Type" under it; with no ContentType it may replace Fields'
// binary/octet-stream with any.
type PostForm struct {
	URL    string
	Fields map[string]string
}

// postSpec is a PostOptions checked and normalised: what every backend
// signs into a form.
type postSpec struct {
	expires          time.Duration
	minSize, maxSize int64
	contentType      string // "" = any
	typePrefix       bool   // contentType ends in "/" and is a prefix
	keyPrefix        bool
	private          bool
}

// postSuccessStatus is the status of a successful post, on every backend:
// S3 answers a form's success_action_status of 204 with it, and Local's
// Handler does too.
const postSuccessStatus = "204"

// Validate reports whether SignedPost accepts opts, with an error wrapping
// fs.ErrInvalid: MaxSize must be 1 byte to 5 GiB, MinSize 0 to MaxSize,
// ContentType one media type or a type and "/", Expires valid for SignOptions.
func (opts *PostOptions) Validate() error {
	_, err := parsePostOptions(opts)
	return err
}

func parsePostOptions(opts *PostOptions) (postSpec, error) {
	if opts == nil {
		return postSpec{}, fmt.Errorf("%w: a post form needs PostOptions with MaxSize", fs.ErrInvalid)
	}
	sign, err := parseSignOptions(&SignOptions{Method: "PUT", Expires: opts.Expires})
	if err != nil {
		return postSpec{}, err
	}
	switch {
	case opts.MaxSize < 0 || opts.MinSize < 0:
		return postSpec{}, fmt.Errorf("%w: negative size bound (MinSize %d, MaxSize %d)", fs.ErrInvalid, opts.MinSize, opts.MaxSize)
	case opts.MaxSize == 0:
		return postSpec{}, fmt.Errorf("%w: a post form needs a MaxSize", fs.ErrInvalid)
	case opts.MaxSize > maxSignedPutSize:
		return postSpec{}, fmt.Errorf("%w: MaxSize %d is more than 5 GiB", fs.ErrInvalid, opts.MaxSize)
	case opts.MinSize > opts.MaxSize:
		return postSpec{}, fmt.Errorf("%w: MinSize %d is more than MaxSize %d", fs.ErrInvalid, opts.MinSize, opts.MaxSize)
	}
	spec := postSpec{
		expires: sign.expires, minSize: opts.MinSize, maxSize: opts.MaxSize,
		contentType: opts.ContentType, keyPrefix: opts.KeyPrefix, private: opts.Private,
	}
	if t, ok := strings.CutSuffix(opts.ContentType, "/"); ok {
		// A prefix is a type and its slash: "image/" admits every image.
		if _, valid := mediaType(t + "/x"); !valid || strings.Contains(t, "/") {
			return postSpec{}, fmt.Errorf("%w: content type prefix %q is not a type followed by \"/\" such as \"image/\"", fs.ErrInvalid, opts.ContentType)
		}
		spec.typePrefix = true
	} else if err := checkContentType(opts.ContentType); err != nil {
		return postSpec{}, err
	}
	return spec, nil
}

// formFields returns the fields every backend's form for key starts with:
// the key, the success status and the Content-Type, unless the page is to
// set it from a type prefix. With no ContentType it is S3's default type,
// which the page may replace: a post that names no type gets the same type
// on every backend, where S3 servers would otherwise differ.
func (spec postSpec) formFields(key string) map[string]string {
	fields := map[string]string{"key": key, "success_action_status": postSuccessStatus}
	switch {
	case spec.typePrefix:
	case spec.contentType != "":
		fields["Content-Type"] = spec.contentType
	default:
		fields["Content-Type"] = defaultUploadType
	}
	return fields
}

// defaultUploadType is the type of an object uploaded through a signed URL
// or form without a Content-Type, on every backend: S3's own default.
const defaultUploadType = "binary/octet-stream"

// ValidatePost reports whether SignedPost accepts key (a prefix with
// opts.KeyPrefix) and opts, as every backend checks first.
func ValidatePost(key string, opts *PostOptions) error {
	_, err := preparePost(key, opts, ValidateKey)
	return err
}

// preparePost is ValidatePost with a backend's own key check, returning the
// options ready to sign.
func preparePost(key string, opts *PostOptions, checkKey func(string) error) (postSpec, error) {
	if opts != nil && opts.KeyPrefix {
		checkKey = ValidatePrefix
	}
	if err := checkKey(key); err != nil {
		return postSpec{}, err
	}
	return parsePostOptions(opts)
}

// allowsType reports whether a posted Content-Type meets spec.
func (spec postSpec) allowsType(contentType string) bool {
	switch {
	case spec.contentType == "":
		return true
	case spec.typePrefix:
		return strings.HasPrefix(contentType, spec.contentType)
	}
	return contentType == spec.contentType
}

package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The query parameters that carry a signature. They are added after the
// escaped key, so they never clash with it: a key's "?" is always escaped.
const (
	paramExpires   = "X-Expires"
	paramPrivate   = "X-Private" // "1" on a PUT signed with SignOptions.Private
	paramSignature = "X-Signature"
)

// minSigningKeyLen is the shortest signing key accepted, from
// LocalOptions or STORAGE_SIGNING_KEY: 32 bytes match HMAC-SHA256's
// strength.
const minSigningKeyLen = 32

// signVersion starts every signed message, so that a MAC made by this
// format can never be taken for one made by another use of the same key.
const signVersion = "orga-storage/local-url/v1"

// SignedURL returns URL(key) with an expiry and an HMAC-SHA256 signature
// appended as the query parameters X-Expires (Unix seconds) and X-Signature
// (unpadded base64url), which [Local.Handler] checks. The signature covers
// the method, the key, the expiry and, for a PUT, opts.ContentType and
// opts.Private: a PUT signed with a content type must send exactly that
// Content-Type header, while one signed without may send any; a PUT signed
// with Private carries X-Private=1 and stores a private object. A GET URL
// also serves HEAD. opts.ContentType and opts.Private are ignored for a
// GET, as S3's SignedURL ignores them.
//
// The error wraps [ErrInvalidKey] for an invalid key, fs.ErrInvalid for an
// unknown method, a negative expiry or one over 7 days, or a content type that
// is not printable ASCII, and errors.ErrUnsupported when the Local has no
// LocalOptions.SigningKey. SignedURL does no I/O.
func (l *Local) SignedURL(ctx context.Context, key string, opts *SignOptions) (string, error) {
	u, err := l.signedURL(key, opts, time.Now())
	return u, wrapErr("sign", key, err)
}

func (l *Local) signedURL(key string, opts *SignOptions, now time.Time) (string, error) {
	if err := checkLocalKey(key); err != nil {
		return "", err
	}
	method, expires, err := signExpiry(opts)
	if err != nil {
		return "", err
	}
	contentType, private := "", false
	if opts != nil && method == http.MethodPut {
		contentType, private = opts.ContentType, opts.Private
	}
	// A newline in it would make the signed message ambiguous; S3 refuses
	// such a header anyway.
	if err := checkContentType(contentType); err != nil {
		return "", err
	}
	if !l.signingKey.IsSet() {
		return "", fmt.Errorf("local storage has no signing key (set STORAGE_SIGNING_KEY): %w", errors.ErrUnsupported)
	}
	// Rounded up, so that a URL is valid for at least the time asked for.
	deadline := now.Add(expires)
	exp := deadline.Unix()
	if deadline.Nanosecond() != 0 {
		exp++
	}
	expStr := strconv.FormatInt(exp, 10)
	sig := base64.RawURLEncoding.EncodeToString(l.mac(method, key, expStr, contentType, private))
	query := paramExpires + "=" + expStr
	if private {
		query += "&" + paramPrivate + "=1"
	}
	return joinURL(l.baseURL, key) + "?" + query + "&" + paramSignature + "=" + sig, nil
}

// mac computes the signature of a request. The fields are joined by
// newlines, which none of them can contain: keys have no control characters,
// content types are printable ASCII, the method is GET or PUT and the expiry
// is digits. A private PUT adds a field, so its message is one line longer
// than any other; the messages of the others are as before X-Private, so
// URLs signed then stay valid. No two different requests share a message.
func (l *Local) mac(method, key, expires, contentType string, private bool) []byte {
	h := hmac.New(sha256.New, []byte(l.signingKey.reveal()))
	for _, field := range [...]string{signVersion, method, key, expires, contentType} {
		h.Write([]byte(field))
		h.Write([]byte{'\n'})
	}
	if private {
		h.Write([]byte("private\n"))
	}
	return h.Sum(nil)
}

// errBadSignature and errExpired say why a signed request was refused; the
// handler answers both with 403.
var (
	errBadSignature = errors.New("invalid signature")
	errExpired      = errors.New("signed URL expired")
)

// hasSignature reports whether the query carries signature parameters at
// all; a request that does must carry a valid signature.
func hasSignature(q url.Values) bool {
	return q.Has(paramSignature) || q.Has(paramExpires) || q.Has(paramPrivate)
}

// signedPrivate reports whether q asks for a private object; the signature,
// which checkSignature verifies, covers it.
func signedPrivate(q url.Values) bool {
	return q.Has(paramPrivate)
}

// checkSignature verifies that q signs method on key at now. For a PUT, the
// signature must cover contentType, the request's Content-Type, or the empty
// content type, which lets the upload send any. The error is errBadSignature
// or errExpired.
func (l *Local) checkSignature(method, key, contentType string, q url.Values, now time.Time) error {
	if !l.signingKey.IsSet() {
		return errBadSignature
	}
	exps, sigs := q[paramExpires], q[paramSignature]
	if len(exps) != 1 || len(sigs) != 1 {
		return errBadSignature
	}
	private := signedPrivate(q)
	if private && (method != http.MethodPut || len(q[paramPrivate]) != 1 || q.Get(paramPrivate) != "1") {
		return errBadSignature
	}
	expStr := exps[0]
	if !isDigits(expStr) || len(expStr) > 18 {
		return errBadSignature
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigs[0])
	if err != nil || len(sig) != sha256.Size {
		return errBadSignature
	}
	if !isHeaderValue(contentType) {
		return errBadSignature
	}
	// The MAC is checked before the expiry, so that a forged expiry reads as
	// a forgery rather than as an old URL.
	if !hmac.Equal(sig, l.mac(method, key, expStr, contentType, private)) &&
		!(contentType != "" && hmac.Equal(sig, l.mac(method, key, expStr, "", private))) {
		return errBadSignature
	}
	exp, _ := strconv.ParseInt(expStr, 10, 64) // 18 digits cannot overflow
	if now.Unix() >= exp {
		return errExpired
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

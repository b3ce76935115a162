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
// The response overrides take S3's names; without a signature the Handler
// ignores them, so they are not signature parameters themselves.
const (
	paramExpires       = "X-Expires"
	paramPrivate       = "X-Private"        // "1" on a PUT signed with SignOptions.Private
	paramContentLength = "X-Content-Length" // SignOptions.ContentLength
	paramContentMD5    = "X-Content-MD5"    // SignOptions.ContentMD5
	paramSignature     = "X-Signature"
	// paramContentType names the Content-Type a PUT was signed for. The MAC
	// covers the type, not this parameter: it only lets a refusal say which
	// header to send, as S3's does.
	paramContentType = "X-Content-Type"

	paramResponseDisposition = "response-content-disposition"
	paramResponseType        = "response-content-type"
)

// minSigningKeyLen is the shortest signing key accepted, from
// LocalOptions or STORAGE_SIGNING_KEY: 32 bytes match HMAC-SHA256's
// strength.
const minSigningKeyLen = 32

// errNoSigningKey is the error of signing with a Local that has no key.
func (l *Local) errNoSigningKey() error {
	return fmt.Errorf("local storage has no signing key (set %s): %w", l.signingKeyName, errors.ErrUnsupported)
}

// signVersion starts every signed message, so that a MAC made by this
// format can never be taken for one made by another use of the same key.
const signVersion = "orga-storage/local-url/v1"

// SignedURL returns URL(key) with the query parameters X-Expires and
// X-Signature, an HMAC-SHA256 with LocalOptions.SigningKey of the method, key
// and expiry and of the options that apply to the method (see [SignOptions]),
// which [Local.Handler] checks. A GET URL also serves HEAD. It fails with
// errors.ErrUnsupported when l has no signing key, and does no I/O.
func (l *Local) SignedURL(ctx context.Context, key string, opts *SignOptions) (string, error) {
	u, err := l.signedURL(key, opts, time.Now())
	return u, wrapErr("sign", key, err)
}

func (l *Local) signedURL(key string, opts *SignOptions, now time.Time) (string, error) {
	if err := checkLocalKey(key); err != nil {
		return "", err
	}
	spec, err := parseSignOptions(opts)
	if err != nil {
		return "", err
	}
	if !l.signingKey.IsSet() {
		return "", l.errNoSigningKey()
	}
	expStr := strconv.FormatInt(expiry(now, spec.expires), 10)
	sig := base64.RawURLEncoding.EncodeToString(l.mac(key, expStr, spec))
	q := paramExpires + "=" + expStr
	if spec.private {
		q += "&" + paramPrivate + "=1"
	}
	if spec.contentLength > 0 {
		q += "&" + paramContentLength + "=" + strconv.FormatInt(spec.contentLength, 10)
	}
	if spec.contentMD5 != "" {
		q += "&" + paramContentMD5 + "=" + url.QueryEscape(spec.contentMD5)
	}
	if spec.method == http.MethodPut && spec.contentType != "" {
		q += "&" + paramContentType + "=" + url.QueryEscape(spec.contentType)
	}
	if spec.responseDisposition != "" {
		q += "&" + paramResponseDisposition + "=" + url.QueryEscape(spec.responseDisposition)
	}
	if spec.responseType != "" {
		q += "&" + paramResponseType + "=" + url.QueryEscape(spec.responseType)
	}
	return joinURL(l.baseURL, key) + "?" + q + "&" + paramSignature + "=" + sig, nil
}

// expiry returns now+expires in Unix seconds, rounded up, so that a URL or
// form is valid for at least the time asked for.
func expiry(now time.Time, expires time.Duration) int64 {
	deadline := now.Add(expires)
	exp := deadline.Unix()
	if deadline.Nanosecond() != 0 {
		exp++
	}
	return exp
}

// mac computes the signature of a request. The fields are joined by
// newlines, which none of them can contain: keys have no control characters,
// content types, MD5s and dispositions are printable ASCII, the method is GET
// or PUT and the expiry and length are digits. Each optional field adds a
// line with its own label, in a fixed order, and only when set, so that URLs
// signed before it existed stay valid and no two different requests share a
// message.
func (l *Local) mac(key, expires string, spec signSpec) []byte {
	h := hmac.New(sha256.New, []byte(l.signingKey.reveal()))
	for _, field := range [...]string{signVersion, spec.method, key, expires, spec.contentType} {
		h.Write([]byte(field))
		h.Write([]byte{'\n'})
	}
	if spec.private {
		h.Write([]byte("private\n"))
	}
	for _, f := range [...]struct{ label, value string }{
		{"length=", lengthString(spec.contentLength)},
		{"md5=", spec.contentMD5},
		{"response-content-disposition=", spec.responseDisposition},
		{"response-content-type=", spec.responseType},
	} {
		if f.value != "" {
			h.Write([]byte(f.label + f.value + "\n"))
		}
	}
	return h.Sum(nil)
}

func lengthString(n int64) string {
	if n <= 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
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
	return q.Has(paramSignature) || q.Has(paramExpires) || q.Has(paramPrivate) ||
		q.Has(paramContentLength) || q.Has(paramContentMD5) || q.Has(paramContentType)
}

// checkSignature verifies that q signs method on key at now, and returns
// what it signs. For a PUT, the signature must cover contentType, the
// request's Content-Type, or the empty content type, which lets the upload
// send any; the response overrides are ignored. For a GET, the upload
// bounds are refused. The error is errBadSignature or errExpired.
func (l *Local) checkSignature(method, key, contentType string, q url.Values, now time.Time) (signSpec, error) {
	if !l.signingKey.IsSet() {
		return signSpec{}, errBadSignature
	}
	exps, sigs := q[paramExpires], q[paramSignature]
	if len(exps) != 1 || len(sigs) != 1 {
		return signSpec{}, errBadSignature
	}
	spec := signSpec{method: method}
	if q.Has(paramPrivate) {
		if method != http.MethodPut || len(q[paramPrivate]) != 1 || q.Get(paramPrivate) != "1" {
			return signSpec{}, errBadSignature
		}
		spec.private = true
	}
	// Each signed value appears once, well-formed, and only on its method;
	// the MAC then says whether it was signed.
	single := func(name string) (string, bool) {
		if v := q[name]; len(v) == 1 && v[0] != "" {
			return v[0], true
		}
		return "", false
	}
	if q.Has(paramContentLength) {
		v, ok := single(paramContentLength)
		if !ok || method != http.MethodPut || !isDigits(v) || len(v) > 18 || v[0] == '0' {
			return signSpec{}, errBadSignature
		}
		spec.contentLength, _ = strconv.ParseInt(v, 10, 64)
	}
	if q.Has(paramContentMD5) {
		v, ok := single(paramContentMD5)
		if !ok || method != http.MethodPut || checkContentMD5(v) != nil {
			return signSpec{}, errBadSignature
		}
		spec.contentMD5 = v
	}
	if method == http.MethodGet {
		for _, p := range [...]struct {
			name string
			dst  *string
		}{{paramResponseDisposition, &spec.responseDisposition}, {paramResponseType, &spec.responseType}} {
			if !q.Has(p.name) {
				continue
			}
			v, ok := single(p.name)
			if !ok || !isHeaderValue(v) {
				return signSpec{}, errBadSignature
			}
			*p.dst = v
		}
	}
	expStr := exps[0]
	if !isDigits(expStr) || len(expStr) > 18 {
		return signSpec{}, errBadSignature
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigs[0])
	if err != nil || len(sig) != sha256.Size {
		return signSpec{}, errBadSignature
	}
	if !isHeaderValue(contentType) {
		return signSpec{}, errBadSignature
	}
	// The MAC is checked before the expiry, so that a forged expiry reads as
	// a forgery rather than as an old URL.
	spec.contentType = contentType
	if !hmac.Equal(sig, l.mac(key, expStr, spec)) {
		spec.contentType = ""
		if contentType == "" || !hmac.Equal(sig, l.mac(key, expStr, spec)) {
			if want, ok := single(paramContentType); ok && method == http.MethodPut && want != contentType && isHeaderValue(want) {
				return signSpec{}, fmt.Errorf("%w: the URL is signed for uploads sending \"Content-Type: %s\"; send that header", errBadSignature, want)
			}
			return signSpec{}, errBadSignature
		}
	}
	exp, _ := strconv.ParseInt(expStr, 10, 64) // 18 digits cannot overflow
	if now.Unix() >= exp {
		return signSpec{}, errExpired
	}
	return spec, nil
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

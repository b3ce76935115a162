package storage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSignedMessages pins the signed messages, written out by hand: URLs
// signed by an earlier release stay valid only while GET and public PUT
// messages keep this form, and a private PUT's must differ from them all.
func TestSignedMessages(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	l := &Local{signingKey: NewSecret(string(key)), baseURL: "/static/media/"}
	now := time.Unix(1_800_000_000, 0)
	for _, tt := range []struct {
		opts    *SignOptions
		message string
	}{
		{nil, "orga-storage/local-url/v1\nGET\nevents/a b.pdf\n1800000900\n\n"},
		{&SignOptions{Private: true, ContentType: "image/png"}, "orga-storage/local-url/v1\nGET\nevents/a b.pdf\n1800000900\n\n"},
		{&SignOptions{Method: http.MethodPut}, "orga-storage/local-url/v1\nPUT\nevents/a b.pdf\n1800000900\n\n"},
		{&SignOptions{Method: http.MethodPut, ContentType: "image/png"}, "orga-storage/local-url/v1\nPUT\nevents/a b.pdf\n1800000900\nimage/png\n"},
		{&SignOptions{Method: http.MethodPut, Private: true}, "orga-storage/local-url/v1\nPUT\nevents/a b.pdf\n1800000900\n\nprivate\n"},
	} {
		signed, err := l.signedURL("events/a b.pdf", tt.opts, now)
		require.NoError(t, err)
		u, err := url.Parse(signed)
		require.NoError(t, err)
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(tt.message))
		assert.Equal(t, base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), u.Query().Get("X-Signature"), "%q", tt.message)
	}
}

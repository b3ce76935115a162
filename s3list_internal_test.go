package storage

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestS3ListEncoding stores, as other tools can, keys that XML 1.0 cannot
// carry or that URL encoding changes, and checks that List yields the keys
// this library accepts, decoded, and that DeletePrefix deletes them all.
// Without encoding-type=url the listing of such a prefix fails altogether.
func TestS3ListEncoding(t *testing.T) {
	ctx := context.Background()
	s, err := NewS3(ctx, minioConfig(t))
	require.NoError(t, err)
	c, err := s.api(ctx)
	require.NoError(t, err)
	prefix := fmt.Sprintf("list-encoding/%016x/", rand.Uint64())

	valid := []string{
		"a b.txt",    // MinIO and AWS send a space as "+"
		"a+b.txt",    // and a literal "+" as "%2B"
		"a%2Bb.txt",  // which, stored literally, must not become "a+b.txt"
		"100%.txt",   // a lone "%"
		"ü.txt",      // UTF-8, sent percent-encoded
		"a&b<c>.txt", // XML's own specials
		"plain.txt",
		"sub dir/x.txt",
		"sub+dir/y.txt",
		"sub%2Bdir/z.txt",
	}
	refused := []string{
		"ctrl\x01key.txt", // XML 1.0 cannot hold U+0001, even as &#x1;
		"ctrl\x01dir/w.txt",
		"back\\slash.txt",
	}
	for _, key := range slices.Concat(valid, refused) {
		_, err := c.api.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.bucket), Key: aws.String(prefix + key), Body: strings.NewReader(key),
		})
		require.NoError(t, err, "%q", key)
		t.Cleanup(func() {
			_, _ = c.api.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(prefix + key)})
		})
	}
	for _, key := range valid {
		require.NoError(t, ValidateKey(prefix+key), "%q", key)
	}
	for _, key := range refused {
		require.Error(t, ValidateKey(prefix+key), "%q", key)
	}

	t.Run("keys", func(t *testing.T) {
		want := make([]string, len(valid))
		for i, key := range valid {
			want[i] = prefix + key
		}
		slices.Sort(want)
		var got []string
		for info, err := range s.List(ctx, prefix, nil) {
			require.NoError(t, err)
			got = append(got, info.Key)
			assert.False(t, info.IsDir)
			// The decoded key names the object stored under it, not
			// another whose key encodes alike.
			r, err := s.Get(ctx, info.Key)
			require.NoError(t, err, "%q", info.Key)
			body, err := io.ReadAll(r)
			r.Close()
			require.NoError(t, err)
			assert.Equal(t, strings.TrimPrefix(info.Key, prefix), string(body))
			assert.Equal(t, int64(len(body)), info.Size)
		}
		assert.Equal(t, want, got)
	})

	t.Run("delimiter", func(t *testing.T) {
		var want []string
		for _, key := range valid {
			if dir, _, ok := strings.Cut(key, "/"); ok {
				key = dir + "/"
			}
			want = append(want, prefix+key)
		}
		// "ctrl\x01dir/" is no prefix List takes: it is skipped.
		slices.Sort(want)
		var got []string
		for info, err := range s.List(ctx, prefix, &ListOptions{Delimiter: "/"}) {
			require.NoError(t, err)
			assert.Equal(t, strings.HasSuffix(info.Key, "/"), info.IsDir, "%q", info.Key)
			got = append(got, info.Key)
		}
		assert.Equal(t, want, got)

		// Each folder lists the one object in it.
		for dir, want := range map[string][]string{
			"sub dir/":   {"sub dir/x.txt"},
			"sub+dir/":   {"sub+dir/y.txt"},
			"sub%2Bdir/": {"sub%2Bdir/z.txt"},
		} {
			got = nil
			for info, err := range s.List(ctx, prefix+dir, &ListOptions{Delimiter: "/"}) {
				require.NoError(t, err)
				got = append(got, strings.TrimPrefix(info.Key, prefix))
			}
			assert.Equal(t, want, got, "%q", dir)
		}
	})

	t.Run("delete prefix", func(t *testing.T) {
		n, err := s.DeletePrefix(ctx, prefix)
		require.NoError(t, err)
		assert.Equal(t, len(valid)+len(refused), n)

		// The raw listing, which sees every key, finds none left.
		out, err := c.api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: aws.String(s.bucket), Prefix: aws.String(prefix), EncodingType: types.EncodingTypeUrl,
		})
		require.NoError(t, err)
		var left []string
		for _, o := range out.Contents {
			left = append(left, aws.ToString(o.Key))
		}
		assert.Empty(t, left)
	})
}

// TestS3ListDecode checks the decoding of a page: form-style URL encoding
// when the response says so, the keys as they are when it does not (a
// server that ignores encoding-type), and an error for a malformed key.
func TestS3ListDecode(t *testing.T) {
	page := func(enc types.EncodingType, keys ...string) *s3.ListObjectsV2Output {
		p := &s3.ListObjectsV2Output{EncodingType: enc}
		for _, k := range keys {
			if strings.HasSuffix(k, "/") {
				p.CommonPrefixes = append(p.CommonPrefixes, types.CommonPrefix{Prefix: aws.String(k)})
			} else {
				p.Contents = append(p.Contents, types.Object{Key: aws.String(k)})
			}
		}
		return p
	}
	keys := func(p *s3.ListObjectsV2Output) []string {
		var out []string
		for _, o := range p.Contents {
			out = append(out, aws.ToString(o.Key))
		}
		for _, cp := range p.CommonPrefixes {
			out = append(out, aws.ToString(cp.Prefix))
		}
		return out
	}

	p := page(types.EncodingTypeUrl, "a+b", "a%2Bb", "a%252Bb", "c%01d", "%C3%BC%26", "e+f/")
	require.NoError(t, decodePage(p))
	assert.Equal(t, []string{"a b", "a+b", "a%2Bb", "c\x01d", "ü&", "e f/"}, keys(p))

	p = page("", "a+b", "a%2Bb", "e+f/")
	require.NoError(t, decodePage(p))
	assert.Equal(t, []string{"a+b", "a%2Bb", "e+f/"}, keys(p))

	require.Error(t, decodePage(page(types.EncodingTypeUrl, "a%zz")))
	require.Error(t, decodePage(page(types.EncodingTypeUrl, "a%zz/")))
}

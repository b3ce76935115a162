package faulttest

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/orga-server/storage"
	"github.com/orga-server/storage/internal/reliability"
	"github.com/orga-server/storage/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// section is this module's part of RELIABILITY.md.
const section = "faulttest"

// invariants is what every fault test checks after the fault, in the
// report's words.
const invariants = "error reported (no silent success); key holds old or new content whole (SHA-256); " +
	"no open multipart upload (ListMultipartUploads); no goroutine leak (goleak)"

// server is a MinIO server and its root credentials.
type server struct {
	endpoint, accessKey, secretKey string
}

// needMinIO returns the server that scripts/minio started, as
// testkit.MinIO reads it: a missing one skips the test, or fails it under
// CI=true, so that CI cannot pass without the fault tests.
func needMinIO(t *testing.T) server {
	t.Helper()
	env := testkit.MinIO(t)
	return server{endpoint: env.Endpoint, accessKey: env.AccessKey, secretKey: env.SecretKey}
}

func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: the fault tests must run)")
	}
	t.Skip(msg)
}

// hostPort returns the host:port of an http endpoint.
func hostPort(t *testing.T, endpoint string) string {
	t.Helper()
	u, err := url.Parse(endpoint)
	require.NoError(t, err)
	return u.Host
}

// toxiproxyGoroutines are toxiproxy's own: after Proxy.Stop, the pipes of
// a connection whose toxics were removed stay blocked on channel sends
// (toxiproxy v2.12.0). They are the test harness's, not the library's.
var toxiproxyGoroutines = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).read"),
	goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).write"),
	goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/toxics.(*ToxicStub).Run"),
}

// checkLeaks fails the test if it leaves goroutines behind. Call it first,
// so that its cleanup runs last, after the proxies and clients are closed.
//
// The library may still be finishing background work when a call returns
// (an abort of a multipart upload the call gave up on, bounded by its own
// timeout), so the check first waits for the goroutine count to come back
// down. Only then does it ask goleak, whose stack parser (v1.3.0) panics on
// the "frames elided" lines that Go prints for deep stacks, such as those of
// requests still in flight: that panic is reported as the leak it means.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	opts := append([]goleak.Option{goleak.IgnoreCurrent()}, toxiproxyGoroutines...)
	t.Cleanup(func() {
		for deadline := time.Now().Add(leakSettleTime); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("goroutines still running %v after the test: %v", leakSettleTime, p)
			}
		}()
		if err := goleak.Find(opts...); err != nil {
			t.Errorf("goroutines leaked: %v", err)
		}
	})
}

// leakSettleTime is how long background work may take to finish after a
// test: the library retries the abort of a multipart upload for up to 30 s
// (s3AbortTimeout) while the server, or here the closed proxy, is
// unreachable.
const leakSettleTime = 35 * time.Second

// fixture is a fresh bucket on a MinIO server, and an SDK client for it
// that bypasses every proxy, to check what the server really holds.
type fixture struct {
	t      *testing.T
	srv    server
	bucket string
	raw    *s3.Client
}

// newFixture creates a bucket of its own for the test, so that the fault
// tests never touch the buckets of the root package's tests, and deletes it
// afterwards with everything in it.
func newFixture(t *testing.T, srv server) *fixture {
	t.Helper()
	// The admin client's connections are closed at the end, so that goleak
	// finds nothing of ours idling.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	f := &fixture{
		t:      t,
		srv:    srv,
		bucket: "faults-" + randomHex(6),
		raw: s3.New(s3.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(srv.endpoint),
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(srv.accessKey, srv.secretKey, ""),
			HTTPClient:   &http.Client{Transport: transport},
		}),
	}
	ctx := context.Background()
	_, err := f.raw.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(f.bucket)})
	require.NoError(t, err)
	t.Cleanup(func() {
		defer transport.CloseIdleConnections()
		f.abortAll()
		p := s3.NewListObjectsV2Paginator(f.raw, &s3.ListObjectsV2Input{Bucket: aws.String(f.bucket)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Logf("cleanup: listing bucket %s: %v", f.bucket, err)
				return
			}
			for _, o := range page.Contents {
				if _, err := f.raw.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(f.bucket), Key: o.Key}); err != nil {
					t.Logf("cleanup: %v", err)
				}
			}
		}
		if _, err := f.raw.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(f.bucket)}); err != nil {
			t.Logf("cleanup: deleting bucket %s: %v", f.bucket, err)
		}
	})
	return f
}

// storage returns the backend under test, talking to endpoint (a proxy in
// front of the fixture's server). The region is set, so that no region
// lookup adds requests to the ones a test counts.
func (f *fixture) storage(endpoint string) *storage.S3 {
	f.t.Helper()
	s, err := storage.NewS3(context.Background(), storage.S3Config{
		Bucket: f.bucket, AccessKey: f.srv.accessKey, SecretKey: storage.NewSecret(f.srv.secretKey),
		Region: "us-east-1", Endpoint: endpoint,
	})
	require.NoError(f.t, err)
	return s
}

// content returns the SHA-256 of the object under key as the server holds
// it, or "" when there is none.
func (f *fixture) content(key string) string {
	f.t.Helper()
	out, err := f.raw.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(f.bucket), Key: aws.String(key)})
	var noSuchKey *s3types.NoSuchKey
	if errors.As(err, &noSuchKey) {
		return ""
	}
	require.NoError(f.t, err)
	defer out.Body.Close()
	h := sha256.New()
	_, err = io.Copy(h, out.Body)
	require.NoError(f.t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// requireOneOf checks that key holds exactly one of the named contents,
// whole, and returns that content's name; "absent" stands for no object.
func (f *fixture) requireOneOf(key string, allowed map[string][]byte) string {
	f.t.Helper()
	got := f.content(key)
	for name, data := range allowed {
		if data == nil && got == "" {
			return name
		}
		if data != nil && got == sum(data) {
			return name
		}
	}
	names := make([]string, 0, len(allowed))
	for name := range allowed {
		names = append(names, name)
	}
	f.t.Fatalf("key %q holds content %q, none of %v whole", key, got, names)
	return ""
}

// requireNoUploads checks that no multipart upload of key is open. (MinIO
// matches the prefix of ListMultipartUploads only against whole keys.)
func (f *fixture) requireNoUploads(key string) {
	f.t.Helper()
	out, err := f.raw.ListMultipartUploads(context.Background(),
		&s3.ListMultipartUploadsInput{Bucket: aws.String(f.bucket), Prefix: aws.String(key)})
	require.NoError(f.t, err)
	require.Empty(f.t, out.Uploads, "multipart uploads of %q left open", key)
}

// openUploads counts the open multipart uploads of key.
func (f *fixture) openUploads(key string) int {
	f.t.Helper()
	out, err := f.raw.ListMultipartUploads(context.Background(),
		&s3.ListMultipartUploadsInput{Bucket: aws.String(f.bucket), Prefix: aws.String(key)})
	require.NoError(f.t, err)
	return len(out.Uploads)
}

// uploadsLeft returns how many multipart uploads of key are open, giving
// aborts already under way up to wait to complete.
func (f *fixture) uploadsLeft(key string, wait time.Duration) int {
	f.t.Helper()
	deadline := time.Now().Add(wait)
	n := f.openUploads(key)
	for n > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		n = f.openUploads(key)
	}
	return n
}

// uploadsText says how many multipart uploads were left, for the report.
func uploadsText(n int) string {
	if n == 0 {
		return "no multipart upload left open"
	}
	return fmt.Sprintf("**%d multipart upload(s) left open**", n)
}

// abortAll aborts every open multipart upload in the bucket, for cleanup.
func (f *fixture) abortAll() {
	ctx := context.Background()
	out, err := f.raw.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(f.bucket)})
	if err != nil {
		return
	}
	for _, u := range out.Uploads {
		_, _ = f.raw.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(f.bucket), Key: u.Key, UploadId: u.UploadId})
	}
}

// put stores b under key with the admin client, bypassing every proxy,
// so that no connection through a proxy predates the test's toxics.
func (f *fixture) put(key string, b []byte) {
	f.t.Helper()
	_, err := f.raw.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(f.bucket), Key: aws.String(key), Body: bytes.NewReader(b)})
	require.NoError(f.t, err)
}

// putMany stores n small objects under list/, with long names so that a
// listing page is large (about 135 KiB), sixteen at a time.
func (f *fixture) putMany(n int) {
	f.t.Helper()
	keys := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for key := range keys {
				_, err := f.raw.PutObject(context.Background(), &s3.PutObjectInput{
					Bucket: aws.String(f.bucket), Key: aws.String(key), Body: strings.NewReader(key)})
				assert.NoError(f.t, err)
			}
		})
	}
	for i := range n {
		keys <- fmt.Sprintf("list/%s-%03d.txt", strings.Repeat("x", 200), i)
	}
	close(keys)
	wg.Wait()
}

// data returns n deterministic pseudo-random bytes.
func data(seed byte, n int) []byte {
	b := make([]byte, n)
	_, _ = io.ReadFull(rand.NewChaCha8([32]byte{seed}), b)
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = cryptorand.Read(b)
	return hex.EncodeToString(b)
}

// mustPut stores data under key through s, with no fault active.
func mustPut(t *testing.T, s storage.Storage, key string, b []byte) {
	t.Helper()
	_, err := s.Put(context.Background(), key, bytes.NewReader(b), nil)
	require.NoError(t, err)
}

// getAll reads the object under key whole and returns it.
func getAll(ctx context.Context, s storage.Storage, key string) ([]byte, error) {
	r, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// volatile matches what changes from run to run in an error message:
// ports and request IDs.
var volatile = regexp.MustCompile(`127\.0\.0\.1:[0-9]+|RequestID: [0-9A-Za-z]+|HostID: [0-9A-Za-z]+|upload id: [0-9A-Za-z=_-]+|faults-[0-9a-f]{12}`)

// brief shortens err for the report, without the parts that change from
// run to run, so that a regenerated report differs only where behaviour did.
func brief(err error) string {
	if err == nil {
		return "no error"
	}
	s := volatile.ReplaceAllStringFunc(err.Error(), func(m string) string {
		switch {
		case strings.HasPrefix(m, "RequestID"):
			return "RequestID: …"
		case strings.HasPrefix(m, "HostID"):
			return "HostID: …"
		case strings.HasPrefix(m, "upload id"):
			return "upload id: …"
		case strings.HasPrefix(m, "faults-"):
			return "BUCKET"
		}
		return "127.0.0.1:…"
	})
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

// record starts the report row of a fault test.
func record(t *testing.T, fault string) *reliability.Entry {
	return reliability.Record(t, section, fault, invariants)
}

// seconds formats a duration for the report, to a tenth of a second.
func seconds(d time.Duration) string {
	return fmt.Sprintf("%.1f s", d.Seconds())
}

package faulttest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// faultProxy is an HTTP reverse proxy in front of MinIO that answers
// chosen requests with an S3 error instead of forwarding them, and counts
// the requests it sees by S3 operation.
type faultProxy struct {
	srv *httptest.Server

	mu        sync.Mutex
	op        string // operation to fail; "" for every one
	remaining int    // failures left; negative: fail every matching request
	status    int
	code      string
	seen      map[string]int // requests by operation
	failed    int
}

func newFaultProxy(t *testing.T, upstream string) *faultProxy {
	t.Helper()
	target, err := url.Parse(upstream)
	require.NoError(t, err)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			// The request is signed for the proxy's host; MinIO checks the
			// signature against the Host header it receives.
			r.Out.Host = r.In.Host
		},
		Transport: transport,
	}
	p := &faultProxy{seen: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status, code, ok := p.inject(r); ok {
			// Read the body as a server would before answering, so that
			// the client does not see a reset instead of the status.
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			if r.Method != http.MethodHead {
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+
					`<Error><Code>%s</Code><Message>injected by the fault proxy</Message><RequestId>FAULT</RequestId></Error>`, code)
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		p.srv.Close()
		transport.CloseIdleConnections()
	})
	return p
}

func (p *faultProxy) endpoint() string { return p.srv.URL }

// fail makes the proxy answer the next n requests of op ("" for any; n < 0
// for all of them) with status and an S3 error code.
func (p *faultProxy) fail(op string, n, status int, code string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.op, p.remaining, p.status, p.code = op, n, status, code
}

func (p *faultProxy) inject(r *http.Request) (int, string, bool) {
	op := operation(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen[op]++
	if p.remaining == 0 || (p.op != "" && p.op != op) {
		return 0, "", false
	}
	if p.remaining > 0 {
		p.remaining--
	}
	p.failed++
	return p.status, p.code, true
}

// counts returns the requests seen, by operation, and how many were failed.
func (p *faultProxy) counts() (map[string]int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := make(map[string]int, len(p.seen))
	for op, n := range p.seen {
		seen[op] = n
	}
	return seen, p.failed
}

// countsText formats request counts for the report, sorted.
func countsText(seen map[string]int) string {
	var parts []string
	for op, n := range seen {
		parts = append(parts, fmt.Sprintf("%s×%d", op, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// operation names the S3 operation of a request: the SDK puts it in the
// x-id parameter for some, the rest are told by method and parameters.
func operation(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case q.Get("x-id") != "":
		return q.Get("x-id")
	case r.Method == http.MethodPost && q.Has("uploads"):
		return "CreateMultipartUpload"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "CompleteMultipartUpload"
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		return "AbortMultipartUpload"
	case r.Method == http.MethodPost && q.Has("delete"):
		return "DeleteObjects"
	case q.Get("list-type") == "2":
		return "ListObjectsV2"
	case r.Method == http.MethodHead:
		return "HeadObject"
	case r.Method == http.MethodGet:
		return "GetObject"
	case r.Method == http.MethodPut:
		return "PutObject"
	case r.Method == http.MethodDelete:
		return "DeleteObject"
	}
	return r.Method
}

// TestHTTPErrors answers S3 requests with 503 SlowDown or 500 InternalError,
// first for a few requests (the SDK's retries must get through) and then for
// all (a clear error after a bounded number of attempts). The SDK makes at
// most 3 attempts a request.
func TestHTTPErrors(t *testing.T) {
	const attempts = 3
	small, large := data(8, 256<<10), data(9, 20<<20)
	ops := map[string]func(context.Context, *storage.S3, string) error{
		"Put": func(ctx context.Context, s *storage.S3, key string) error {
			_, err := s.Put(ctx, key, bytes.NewReader(small), nil)
			return err
		},
		"multipart Put": func(ctx context.Context, s *storage.S3, key string) error {
			_, err := s.Put(ctx, key, bytes.NewReader(large), nil)
			return err
		},
		"Get": func(ctx context.Context, s *storage.S3, key string) error {
			_, err := getAll(ctx, s, key)
			return err
		},
		"Stat": func(ctx context.Context, s *storage.S3, key string) error {
			_, err := s.Stat(ctx, key)
			return err
		},
		"List": func(ctx context.Context, s *storage.S3, key string) error {
			for _, err := range s.List(ctx, "events/", nil) {
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
	for _, tt := range []struct {
		status int
		code   string
		op     string // storage call
		s3op   string // S3 operation failed
		n      int    // requests failed; -1 for all
	}{
		{503, "SlowDown", "Put", "PutObject", 2},
		{500, "InternalError", "Get", "GetObject", 2},
		{503, "SlowDown", "List", "ListObjectsV2", 2},
		{500, "InternalError", "multipart Put", "UploadPart", 2},
		{503, "SlowDown", "multipart Put", "CompleteMultipartUpload", 2},
		{503, "SlowDown", "Put", "PutObject", -1},
		{500, "InternalError", "Get", "GetObject", -1},
		{503, "SlowDown", "Stat", "HeadObject", -1},
		{500, "InternalError", "List", "ListObjectsV2", -1},
		{500, "InternalError", "multipart Put", "UploadPart", -1},
		{503, "SlowDown", "multipart Put", "CreateMultipartUpload", -1},
		{503, "SlowDown", "multipart Put", "CompleteMultipartUpload", -1},
	} {
		which := fmt.Sprintf("the first %d", tt.n)
		if tt.n < 0 {
			which = "every"
		}
		name := fmt.Sprintf("%d %s on %s %s", tt.status, tt.code, which, tt.s3op)
		t.Run(name, func(t *testing.T) {
			checkLeaks(t)
			f := newFixture(t, needMinIO(t))
			p := newFaultProxy(t, f.srv.endpoint)
			s := f.storage(p.endpoint())
			row := record(t, fmt.Sprintf("HTTP %d %s answered to %s %s request(s) during a %s", tt.status, tt.code, which, tt.s3op, tt.op))
			key := "events/1/programme.pdf"
			old := data(10, 64<<10)
			f.put(key, old)

			p.fail(tt.s3op, tt.n, tt.status, tt.code)
			start := time.Now()
			err := ops[tt.op](context.Background(), s, key)
			took := time.Since(start)
			seen, failed := p.counts()
			state := f.requireOneOf(key, map[string][]byte{"old": old, "new": small, "new (multipart)": large})
			open := f.uploadsLeft(key, 0)
			row.Observe("%s after %s (%s); requests: %s, %d of them failed by the proxy; the key held the %s content; %s",
				map[bool]string{true: "succeeded", false: "failed"}[err == nil], seconds(took), brief(err),
				countsText(seen), failed, state, uploadsText(open))
			assert.Zero(t, open, "multipart uploads of %q left open", key)

			if tt.n > 0 {
				require.NoError(t, err, "the SDK must retry past %d failures", tt.n)
				want := 1 // requests of tt.s3op without faults
				if tt.s3op == "UploadPart" {
					want = (len(large) + 8<<20 - 1) / (8 << 20) // 8 MiB parts
				}
				assert.Equal(t, want+tt.n, seen[tt.s3op], "one attempt more per failure, no more")
				if strings.HasPrefix(tt.op, "Put") || strings.HasPrefix(tt.op, "multipart") {
					assert.NotEqual(t, "old", state, "a successful Put must have stored the new content")
				}
				return
			}
			require.Error(t, err, "a request that always fails must fail the call")
			assert.Contains(t, err.Error(), "exceeded maximum number of attempts, 3", "the error says the retries ran out")
			if tt.s3op != "HeadObject" {
				assert.Contains(t, err.Error(), tt.code, "the error names the server's code")
			}
			assert.LessOrEqual(t, seen[tt.s3op], 3*attempts, "retries stay bounded")
			assert.Equal(t, "old", state)
		})
	}
}

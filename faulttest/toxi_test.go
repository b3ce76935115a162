package faulttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/orga-server/storage"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// toxi is an in-process toxiproxy TCP proxy in front of a MinIO server.
type toxi struct {
	t *testing.T
	p *toxiproxy.Proxy
}

// throughToxiproxy checks the test for leaked goroutines and returns a
// fixture on the MinIO of scripts/minio, a proxy in front of it, and the
// storage that talks to MinIO through the proxy.
func throughToxiproxy(t *testing.T) (*fixture, *toxi, *storage.S3) {
	checkLeaks(t)
	f := newFixture(t, needMinIO(t))
	x := newToxi(t, hostPort(t, f.srv.endpoint))
	return f, x, f.storage(x.endpoint())
}

func newToxi(t *testing.T, upstream string) *toxi {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "minio", "127.0.0.1:0", upstream)
	require.NoError(t, p.Start())
	// Stopping the proxy closes every connection through it, so that the
	// client's idle connections end too and goleak sees none of them.
	t.Cleanup(p.Stop)
	return &toxi{t: t, p: p}
}

func (x *toxi) endpoint() string { return "http://" + x.p.Listen }

// toxic is one toxic to add: type, stream ("upstream" is client to server),
// toxicity (the share of connections it applies to) and attributes, as in
// toxiproxy's HTTP API.
type toxic struct {
	typ, stream string
	toxicity    float64
	attrs       map[string]int64
}

func (x *toxi) add(toxics ...toxic) {
	x.t.Helper()
	for i, tx := range toxics {
		body, err := json.Marshal(map[string]any{
			"name": fmt.Sprintf("%s_%s_%d", tx.typ, tx.stream, i), "type": tx.typ, "stream": tx.stream,
			"toxicity": tx.toxicity, "attributes": tx.attrs,
		})
		require.NoError(x.t, err)
		_, err = x.p.Toxics.AddToxicJson(bytes.NewReader(body))
		require.NoError(x.t, err)
	}
}

// clear removes every toxic: the network is healthy again.
func (x *toxi) clear() { x.p.Toxics.ResetToxics(context.Background()) }

// Connection faults, applied to every new connection through the proxy, so
// that the SDK's retries meet them too and the call must fail.
var (
	// rst resets the connection (TCP RST) once 96 KiB have passed. A
	// reset_peer toxic would drop all data, so a limit_data toxic does the
	// cutting; the reset_peer toxic, which never fires (toxicity 0), is there
	// because its presence makes toxiproxy set SO_LINGER 0 on the
	// connection, so that the close is a reset rather than a FIN.
	rst = func(stream string) []toxic {
		return []toxic{
			{"reset_peer", stream, 0, map[string]int64{"timeout": 0}},
			{"limit_data", stream, 1, map[string]int64{"bytes": 96 << 10}},
		}
	}
	// cut closes the connection (FIN) once 32 KiB have passed.
	cut = func(stream string) []toxic {
		return []toxic{{"limit_data", stream, 1, map[string]int64{"bytes": 32 << 10}}}
	}
)

var connFaults = []struct {
	name  string
	desc  string
	toxic func(stream string) []toxic
}{
	{"reset", "TCP reset (RST) after 96 KiB on every connection", rst},
	{"cut", "connection closed (FIN) after 32 KiB on every connection", cut},
}

// TestConnectionLossPut breaks the connection in the middle of a single-part
// upload (2 MiB, one PutObject) and of a multipart upload (20 MiB, three
// parts).
func TestConnectionLossPut(t *testing.T) {
	for _, size := range []struct {
		name string
		n    int
	}{{"single-part", 2 << 20}, {"multipart", 20 << 20}} {
		for _, fault := range connFaults {
			t.Run(size.name+"/"+fault.name, func(t *testing.T) {
				f, x, s := throughToxiproxy(t)
				row := record(t, fmt.Sprintf("%s during a %s Put of %d MiB over an existing object", fault.desc, size.name, size.n>>20))
				key := "events/1/video.mp4"
				old, upd := data(1, 1<<20), data(2, size.n)
				// Seeded directly, so that every connection through the
				// proxy is opened after the toxics are in place.
				f.put(key, old)

				x.add(fault.toxic("upstream")...)
				start := time.Now()
				_, err := s.Put(context.Background(), key, bytes.NewReader(upd), nil)
				took := time.Since(start)
				require.Error(t, err, "a Put whose every connection broke must fail")
				state := f.requireOneOf(key, map[string][]byte{"old": old, "new": upd})
				open := f.uploadsLeft(key, 0)
				row.Observe("Put failed after %s with %s; the key kept the %s content; %s",
					seconds(took), brief(err), state, uploadsText(open))
				assert.Equal(t, "old", state, "no request body got through whole")
				assert.Zero(t, open, "multipart uploads of %q left open", key)

				x.clear()
				mustPut(t, s, key, upd)
				assert.Equal(t, "new", f.requireOneOf(key, map[string][]byte{"old": old, "new": upd}))
				row.Observe("Put failed after %s with %s; the key kept the %s content; %s; once the network healed, the same Put succeeded",
					seconds(took), brief(err), state, uploadsText(open))
			})
		}
	}
}

// TestConnectionLossGet breaks the connection in the middle of a download.
func TestConnectionLossGet(t *testing.T) {
	for _, fault := range connFaults {
		t.Run(fault.name, func(t *testing.T) {
			f, x, s := throughToxiproxy(t)
			row := record(t, fault.desc+" during a Get of 4 MiB")
			key := "events/1/slides.pdf"
			content := data(3, 4<<20)
			f.put(key, content)

			x.add(fault.toxic("downstream")...)
			start := time.Now()
			var n int64
			r, err := s.Get(context.Background(), key)
			if err == nil {
				h := sha256.New()
				n, err = io.Copy(h, r)
				r.Close()
				if err == nil {
					t.Errorf("Get read %d bytes (SHA-256 %s) without an error", n, hex.EncodeToString(h.Sum(nil)))
				}
			}
			took := time.Since(start)
			require.Error(t, err, "a download cut short must fail, never end as if complete")
			assert.Less(t, n, int64(len(content)))
			// The object itself is untouched.
			assert.Equal(t, "whole", f.requireOneOf(key, map[string][]byte{"whole": content}))
			f.requireNoUploads(key)

			x.clear()
			got, err2 := getAll(context.Background(), s, key)
			require.NoError(t, err2)
			assert.Equal(t, sum(content), sum(got))
			row.Observe("the read failed after %d of %d bytes and %s with %s; once the network healed, Get returned the object whole",
				n, len(content), seconds(took), brief(err))
		})
	}
}

// TestConnectionLossList breaks the connection in the middle of a listing
// of 300 keys (one ListObjectsV2 page of about 100 KiB).
func TestConnectionLossList(t *testing.T) {
	for _, fault := range connFaults {
		t.Run(fault.name, func(t *testing.T) {
			f, x, s := throughToxiproxy(t)
			row := record(t, fault.desc+" during a List of 300 keys")
			const n = 300
			f.putMany(n)

			x.add(fault.toxic("downstream")...)
			start := time.Now()
			seen, err := list(s, "list/")
			took := time.Since(start)
			require.Error(t, err, "a listing cut short must end with an error, never look complete")
			assert.Less(t, seen, n)

			x.clear()
			all, err2 := list(s, "list/")
			require.NoError(t, err2)
			assert.Equal(t, n, all)
			row.Observe("List yielded %d keys, then the error %s after %s; once the network healed, it listed all %d",
				seen, brief(err), seconds(took), n)
		})
	}
}

// list counts the keys under prefix until the listing ends or fails.
func list(s *storage.S3, prefix string) (int, error) {
	n := 0
	for _, err := range s.List(context.Background(), prefix, nil) {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// TestLatencyBeyondDeadline delays every response by 3 s while the caller
// allows 1.5 s, time enough for the requests to reach the server but not
// for the responses to come back: each call must return promptly with the
// context's error. The multipart Put runs twice: with 300 ms, the deadline
// passes while the first part is read; with 1.5 s, after the server has
// created the multipart upload but before the client learns its ID.
func TestLatencyBeyondDeadline(t *testing.T) {
	const latency = 3000
	// promptly is how long after the deadline a call may take to return.
	const promptly = time.Second
	small, large := data(5, 1<<20), data(6, 20<<20)
	ops := []struct {
		name     string
		deadline time.Duration
		op       func(ctx context.Context, s *storage.S3, key string, old []byte) error
	}{
		{"Put of 1 MiB", 1500 * time.Millisecond, func(ctx context.Context, s *storage.S3, key string, _ []byte) error {
			_, err := s.Put(ctx, key, bytes.NewReader(small), nil)
			return err
		}},
		{"multipart Put of 20 MiB", 300 * time.Millisecond, func(ctx context.Context, s *storage.S3, key string, _ []byte) error {
			_, err := s.Put(ctx, key, bytes.NewReader(large), nil)
			return err
		}},
		{"multipart Put of 20 MiB, CreateMultipartUpload answer lost", 1500 * time.Millisecond, func(ctx context.Context, s *storage.S3, key string, _ []byte) error {
			_, err := s.Put(ctx, key, bytes.NewReader(large), nil)
			return err
		}},
		{"Get", 1500 * time.Millisecond, func(ctx context.Context, s *storage.S3, key string, _ []byte) error {
			_, err := getAll(ctx, s, key)
			return err
		}},
		{"Stat", 1500 * time.Millisecond, func(ctx context.Context, s *storage.S3, key string, _ []byte) error {
			_, err := s.Stat(ctx, key)
			return err
		}},
		{"List", 1500 * time.Millisecond, func(ctx context.Context, s *storage.S3, key string, _ []byte) error {
			for _, err := range s.List(ctx, "events/", nil) {
				if err != nil {
					return err
				}
			}
			return nil
		}},
		{"Copy", 1500 * time.Millisecond, func(ctx context.Context, s *storage.S3, key string, _ []byte) error {
			_, err := s.Copy(ctx, key+".copy", key)
			return err
		}},
		{"Delete", 1500 * time.Millisecond, func(ctx context.Context, s *storage.S3, key string, _ []byte) error {
			return s.Delete(ctx, key)
		}},
	}
	for _, tt := range ops {
		t.Run(tt.name, func(t *testing.T) {
			f, x, s := throughToxiproxy(t)
			deadline := tt.deadline
			row := record(t, fmt.Sprintf("%d ms latency on every response, caller's deadline %v: %s", latency, deadline, tt.name))
			key := "events/1/report.pdf"
			old := data(4, 64<<10)
			f.put(key, old)

			x.add(toxic{"latency", "downstream", 1, map[string]int64{"latency": latency}})
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			err := tt.op(ctx, s, key, old)
			took := time.Since(start)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Less(t, took, deadline+promptly, "the call must return promptly after the deadline")
			// The request may have reached the server before the deadline:
			// either content is fine, half of one is not.
			state := f.requireOneOf(key, map[string][]byte{
				"old": old, "new": small, "new (multipart)": large, "absent (deleted)": nil})
			x.clear()
			// Let requests that were in flight through the proxy finish
			// before looking for open uploads.
			open := f.uploadsLeft(key, 5*time.Second)
			row.Observe("returned after %s with %s; the key held the %s content; %s", seconds(took), brief(err), state, uploadsText(open))
			assert.Zero(t, open, "multipart uploads of %q left open", key)
		})
	}
}

// TestBandwidthLimit throttles the connection to 512 KB/s: calls succeed,
// taking as long as the bandwidth requires.
func TestBandwidthLimit(t *testing.T) {
	const rate = 512 // KB/s
	for _, stream := range []string{"upstream", "downstream"} {
		t.Run(stream, func(t *testing.T) {
			f, x, s := throughToxiproxy(t)
			op := map[string]string{"upstream": "Put", "downstream": "Get"}[stream]
			row := record(t, fmt.Sprintf("bandwidth limited to %d KB/s (%s): %s of 1 MiB", rate, stream, op))
			row.Observe("(not run)")
			key := "events/1/poster.png"
			content := data(7, 1<<20)
			if stream == "downstream" {
				f.put(key, content)
			}
			x.add(toxic{"bandwidth", stream, 1, map[string]int64{"rate": rate}})
			start := time.Now()
			var err error
			if stream == "upstream" {
				_, err = s.Put(context.Background(), key, bytes.NewReader(content), nil)
			} else {
				var got []byte
				got, err = getAll(context.Background(), s, key)
				assert.Equal(t, sum(content), sum(got), "Get returned other content")
			}
			took := time.Since(start)
			require.NoError(t, err)
			minimum := time.Duration(len(content)) * time.Second / (rate * 1000)
			assert.GreaterOrEqual(t, took, minimum*8/10, "the throttle must have applied")
			assert.Equal(t, "whole", f.requireOneOf(key, map[string][]byte{"whole": content}))
			f.requireNoUploads(key)
			row.Observe("%s succeeded in %s (at least %s at that rate); content verified by SHA-256", op, seconds(took), seconds(minimum))
		})
	}
}

package otelstorage_test

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orga-server/storage"
	"github.com/orga-server/storage/memstore"
	"github.com/orga-server/storage/otelstorage"
	"github.com/orga-server/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// recorded is an instrumented store with in-memory exporters.
type recorded struct {
	storage.Storage
	spans   *tracetest.SpanRecorder
	metrics *sdkmetric.ManualReader
}

func instrument(t *testing.T, s storage.Storage, opts ...otelstorage.Option) recorded {
	spans := tracetest.NewSpanRecorder()
	metrics := sdkmetric.NewManualReader()
	opts = append(opts,
		otelstorage.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))),
		otelstorage.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(metrics))))
	return recorded{otelstorage.Instrument(s, opts...), spans, metrics}
}

func localStore(t *testing.T) *storage.Local {
	l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{SigningKey: storage.NewSecret("otelstorage-test-signing-key-0123456789")})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// TestConformance runs the conformance suite, unchanged, on instrumented
// stores: instrumenting changes nothing of what a Storage does.
func TestConformance(t *testing.T) {
	t.Run("Local", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Storage { return instrument(t, localStore(t)).Storage })
	})
	t.Run("LocalHTTP", func(t *testing.T) {
		storagetest.RunHTTP(t, func(t *testing.T) storage.Storage {
			// Served at an absolute BaseURL, so that its URLs can be fetched.
			mux := http.NewServeMux()
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{BaseURL: srv.URL + "/media/", SigningKey: storage.NewSecret("otelstorage-test-signing-key-0123456789")})
			require.NoError(t, err)
			t.Cleanup(func() { l.Close() })
			s := instrument(t, l).Storage
			_, h := storage.Handler(s)
			mux.Handle("/media/", h)
			return s
		})
	})
	t.Run("memstore", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Storage { return instrument(t, new(memstore.Store)).Storage })
	})
}

func TestSpans(t *testing.T) {
	ctx := context.Background()
	s := instrument(t, localStore(t))
	_, err := s.Put(ctx, "events/42/speakers/7/ada-lovelace.png", strings.NewReader("png bytes"), nil)
	require.NoError(t, err)
	_, err = s.Stat(ctx, "events/42/missing.png")
	require.ErrorIs(t, err, fs.ErrNotExist)
	_, err = s.Get(ctx, "../escape")
	require.ErrorIs(t, err, storage.ErrInvalidKey)

	ended := s.spans.Ended()
	require.Len(t, ended, 3)
	attrs := func(i int) map[attribute.Key]attribute.Value {
		m := map[attribute.Key]attribute.Value{}
		for _, kv := range ended[i].Attributes() {
			m[kv.Key] = kv.Value
		}
		return m
	}
	assert.Equal(t, "storage.put", ended[0].Name())
	put := attrs(0)
	assert.Equal(t, "put", put["storage.operation"].AsString())
	assert.Equal(t, "local", put["storage.backend"].AsString())
	assert.Equal(t, int64(5), put["storage.key.depth"].AsInt64())
	assert.Equal(t, int64(9), put["storage.size"].AsInt64())
	for i := range ended {
		for _, kv := range ended[i].Attributes() {
			assert.NotContains(t, kv.Value.String(), "ada-lovelace", "no key in full unless asked: %s", kv.Key)
		}
	}
	assert.Equal(t, "not_exist", attrs(1)["storage.error"].AsString())
	assert.Equal(t, "Error", ended[1].Status().Code.String())
	assert.Equal(t, "invalid_key", attrs(2)["storage.error"].AsString())

	withKeys := instrument(t, localStore(t), otelstorage.WithKeys(), otelstorage.WithBackend("media"))
	_, err = withKeys.Stat(ctx, "events/42/a.png")
	require.Error(t, err)
	got := withKeys.spans.Ended()[0].Attributes()
	assert.Contains(t, got, attribute.String("storage.key", "events/42/a.png"))
	assert.Contains(t, got, attribute.String("storage.backend", "media"))
}

// sums returns the metric's data points as "operation/outcome" → value.
func sums(t *testing.T, r *sdkmetric.ManualReader, name string) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	out := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			label := func(set attribute.Set) string {
				op, _ := set.Value("operation")
				outcome, _ := set.Value("outcome")
				backend, _ := set.Value("backend")
				return backend.AsString() + ":" + op.AsString() + "/" + outcome.AsString()
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[label(p.Attributes)] += float64(p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[label(p.Attributes)] += float64(p.Count)
				}
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	s := instrument(t, new(memstore.Store))
	_, err := s.Put(ctx, "a.txt", strings.NewReader("hello"), nil)
	require.NoError(t, err)
	_, err = s.Put(ctx, "b.txt", strings.NewReader("hello, world"), nil)
	require.NoError(t, err)
	r, err := s.Get(ctx, "b.txt")
	require.NoError(t, err)
	_, err = io.CopyN(io.Discard, r, 5)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	r.Close() // a second Close counts nothing more
	_, err = s.Get(ctx, "missing.txt")
	require.Error(t, err)
	for range s.List(ctx, "", nil) {
	}

	backend := "*memstore.Store"
	assert.Equal(t, map[string]float64{
		backend + ":put/ok": 2, backend + ":get/ok": 1, backend + ":get/not_exist": 1, backend + ":list/ok": 1,
	}, sums(t, s.metrics, "storage.operations"))
	assert.Equal(t, sums(t, s.metrics, "storage.operations"), sums(t, s.metrics, "storage.duration"), "a duration per operation")
	assert.Equal(t, map[string]float64{backend + ":put/ok": 17, backend + ":get/ok": 5}, sums(t, s.metrics, "storage.bytes"), "bytes put, and bytes read")
}

// TestKeepsTheHandler checks that an instrumented Local is still served, and
// that an instrumented store without a Handler has none.
func TestKeepsTheHandler(t *testing.T) {
	pattern, h := storage.Handler(instrument(t, localStore(t)).Storage)
	assert.Equal(t, "/static/media/", pattern)
	assert.NotNil(t, h)
	_, h = storage.Handler(instrument(t, new(memstore.Store)).Storage)
	assert.Nil(t, h)
}

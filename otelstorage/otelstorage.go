// Package otelstorage records OpenTelemetry traces and metrics of a
// [storage.Storage]: a span per operation, and the metrics
// storage.operations, storage.duration and storage.bytes. It is a module of
// its own, so that the storage library itself does not depend on
// OpenTelemetry.
//
// Keys may be personal data (a speaker's name in a file name), so spans
// carry only a key's depth, its number of segments, unless [WithKeys] asks
// for the key itself.
package otelstorage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/orga-server/storage"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// scope names the instrumentation, as OpenTelemetry asks.
const scope = "github.com/orga-server/storage/otelstorage"

// An Option configures [Instrument].
type Option func(*config)

type config struct {
	tracers trace.TracerProvider
	meters  metric.MeterProvider
	backend string
	keys    bool
}

// WithTracerProvider records spans with tp instead of the global provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tracers = tp }
}

// WithMeterProvider records metrics with mp instead of the global provider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meters = mp }
}

// WithBackend sets the backend attribute; the default is "s3" for
// *storage.S3, "local" for *storage.Local and the Go type otherwise.
func WithBackend(name string) Option {
	return func(c *config) { c.backend = name }
}

// WithKeys adds the whole key (or prefix) to each span as storage.key.
func WithKeys() Option {
	return func(c *config) { c.keys = true }
}

// Instrument returns a Storage that does what s does and records each call.
// It keeps what the storage package looks for on s: [storage.Handler] still
// serves an instrumented *storage.Local, and [storage.DeletePrefix] still
// uses a backend's own DeletePrefix. Errors pass through unchanged.
//
// Every call is a span named "storage.<operation>" (put, get, get_range,
// stat, delete, list, copy, delete_prefix, signed_url, signed_post) with
// the attributes storage.operation, storage.backend, storage.key.depth,
// storage.size where a size is known, and storage.error (not_exist,
// permission, invalid, invalid_key, canceled, deadline, unsupported, other)
// on failure; and a measurement of storage.operations (calls),
// storage.duration (seconds) and, for put and get, storage.bytes, each with
// the attributes operation, backend and outcome ("ok" or the error kind).
// The duration of a Get is the time to open it; its bytes are counted as
// they are read, and recorded when the Reader is closed.
func Instrument(s storage.Storage, opts ...Option) storage.Storage {
	c := config{tracers: otel.GetTracerProvider(), meters: otel.GetMeterProvider(), backend: backendName(s)}
	for _, opt := range opts {
		opt(&c)
	}
	meter := c.meters.Meter(scope)
	st := &store{s: s, c: c, tracer: c.tracers.Tracer(scope)}
	// Instrument names are fixed and valid: the errors cannot happen.
	st.ops, _ = meter.Int64Counter("storage.operations", metric.WithDescription("Storage operations."), metric.WithUnit("{operation}"))
	st.duration, _ = meter.Float64Histogram("storage.duration", metric.WithDescription("Duration of storage operations."), metric.WithUnit("s"))
	st.bytes, _ = meter.Int64Counter("storage.bytes", metric.WithDescription("Bytes stored and read."), metric.WithUnit("By"))
	if srv, ok := s.(server); ok {
		return &servedStore{st, srv}
	}
	return st
}

// server is what storage.Handler looks for.
type server interface {
	Handler() http.Handler
	BaseURL() string
}

type servedStore struct {
	*store
	srv server
}

func (s *servedStore) Handler() http.Handler { return s.srv.Handler() }
func (s *servedStore) BaseURL() string       { return s.srv.BaseURL() }

func backendName(s storage.Storage) string {
	switch s.(type) {
	case *storage.S3:
		return "s3"
	case *storage.Local:
		return "local"
	}
	return fmt.Sprintf("%T", s)
}

type store struct {
	s        storage.Storage
	c        config
	tracer   trace.Tracer
	ops      metric.Int64Counter
	duration metric.Float64Histogram
	bytes    metric.Int64Counter
}

// call is one operation in progress.
type call struct {
	s     *store
	op    string
	ctx   context.Context
	span  trace.Span
	start time.Time
}

func (s *store) begin(ctx context.Context, op, key string) *call {
	attrs := []attribute.KeyValue{
		attribute.String("storage.operation", op),
		attribute.String("storage.backend", s.c.backend),
		attribute.Int("storage.key.depth", depth(key)),
	}
	if s.c.keys {
		attrs = append(attrs, attribute.String("storage.key", key))
	}
	ctx, span := s.tracer.Start(ctx, "storage."+op, trace.WithAttributes(attrs...), trace.WithSpanKind(trace.SpanKindClient))
	return &call{s: s, op: op, ctx: ctx, span: span, start: time.Now()}
}

// end records the call's outcome, with size bytes when size >= 0.
func (c *call) end(err error, size int64) {
	outcome := outcomeOf(err)
	if err != nil {
		c.span.RecordError(err)
		c.span.SetStatus(codes.Error, outcome)
		c.span.SetAttributes(attribute.String("storage.error", outcome))
	}
	if size >= 0 {
		c.span.SetAttributes(attribute.Int64("storage.size", size))
	}
	c.span.End()
	set := c.s.measured(c.op, outcome)
	c.s.ops.Add(c.ctx, 1, set)
	c.s.duration.Record(c.ctx, time.Since(c.start).Seconds(), set)
}

// countBytes adds n bytes moved by op to storage.bytes.
func (s *store) countBytes(ctx context.Context, op string, n int64, err error) {
	s.bytes.Add(ctx, n, s.measured(op, outcomeOf(err)))
}

// measured returns the attributes of every measurement.
func (s *store) measured(op, outcome string) metric.MeasurementOption {
	return metric.WithAttributes(
		attribute.String("operation", op),
		attribute.String("backend", s.c.backend),
		attribute.String("outcome", outcome),
	)
}

// depth is a key's number of segments; a prefix's trailing slash adds none.
func depth(key string) int {
	key = strings.TrimSuffix(key, "/")
	if key == "" {
		return 0
	}
	return strings.Count(key, "/") + 1
}

// outcomeOf is "ok" for nil, else the error's kind.
func outcomeOf(err error) string {
	if err == nil {
		return "ok"
	}
	return kind(err)
}

// kind names an error by the sentinel it matches, most specific first.
func kind(err error) string {
	switch {
	case errors.Is(err, storage.ErrInvalidKey):
		return "invalid_key"
	case errors.Is(err, fs.ErrNotExist):
		return "not_exist"
	case errors.Is(err, fs.ErrPermission):
		return "permission"
	case errors.Is(err, fs.ErrInvalid):
		return "invalid"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.Is(err, errors.ErrUnsupported):
		return "unsupported"
	}
	return "other"
}

func (s *store) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	c := s.begin(ctx, "put", key)
	info, err := s.s.Put(c.ctx, key, r, opts)
	size := int64(-1)
	if err == nil {
		size = info.Size
		s.countBytes(c.ctx, "put", size, nil)
	}
	c.end(err, size)
	return info, err
}

func (s *store) Get(ctx context.Context, key string) (*storage.Reader, error) {
	return s.open(ctx, "get", key, func(ctx context.Context) (*storage.Reader, error) { return s.s.Get(ctx, key) })
}

func (s *store) GetRange(ctx context.Context, key string, offset, length int64) (*storage.Reader, error) {
	return s.open(ctx, "get_range", key, func(ctx context.Context) (*storage.Reader, error) {
		return s.s.GetRange(ctx, key, offset, length)
	})
}

// open records the opening of a Reader, and its bytes when it is closed.
func (s *store) open(ctx context.Context, op, key string, get func(context.Context) (*storage.Reader, error)) (*storage.Reader, error) {
	c := s.begin(ctx, op, key)
	r, err := get(c.ctx)
	if err != nil {
		c.end(err, -1)
		return nil, err
	}
	c.end(nil, r.Info().Size)
	return storage.NewReader(&countedBody{r: r, done: func(n int64, err error) { s.countBytes(ctx, op, n, err) }}, r.Info()), nil
}

// countedBody counts what is read through it, and reports it once, on
// Close, with the first read error other than io.EOF.
type countedBody struct {
	r      io.ReadCloser
	n      atomic.Int64
	err    error
	done   func(n int64, err error)
	closed atomic.Bool
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n.Add(int64(n))
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *countedBody) Close() error {
	err := b.r.Close()
	if !b.closed.Swap(true) {
		b.done(b.n.Load(), b.err)
	}
	return err
}

func (s *store) Stat(ctx context.Context, key string) (storage.Info, error) {
	c := s.begin(ctx, "stat", key)
	info, err := s.s.Stat(c.ctx, key)
	c.end(err, -1)
	return info, err
}

func (s *store) Delete(ctx context.Context, key string) error {
	c := s.begin(ctx, "delete", key)
	err := s.s.Delete(c.ctx, key)
	c.end(err, -1)
	return err
}

// List records one span for the whole listing, ended when the caller stops
// or the listing ends, with the number of entries as storage.size.
func (s *store) List(ctx context.Context, prefix string, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		c := s.begin(ctx, "list", prefix)
		var n int64
		var failed error
		for info, err := range s.s.List(c.ctx, prefix, opts) {
			if err != nil {
				failed = err
			} else {
				n++
			}
			if !yield(info, err) {
				break
			}
		}
		c.end(failed, n)
	}
}

func (s *store) Copy(ctx context.Context, dst, src string) (storage.Info, error) {
	c := s.begin(ctx, "copy", dst)
	info, err := s.s.Copy(c.ctx, dst, src)
	size := int64(-1)
	if err == nil {
		size = info.Size
	}
	c.end(err, size)
	return info, err
}

// DeletePrefix deletes through [storage.DeletePrefix], which uses the
// backend's own DeletePrefix where it has one.
func (s *store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	c := s.begin(ctx, "delete_prefix", prefix)
	n, err := storage.DeletePrefix(c.ctx, s.s, prefix)
	c.end(err, int64(n))
	return n, err
}

// URL does no I/O and is not recorded.
func (s *store) URL(key string) (string, error) { return s.s.URL(key) }

func (s *store) SignedURL(ctx context.Context, key string, opts *storage.SignOptions) (string, error) {
	c := s.begin(ctx, "signed_url", key)
	u, err := s.s.SignedURL(c.ctx, key, opts)
	c.end(err, -1)
	return u, err
}

func (s *store) SignedPost(ctx context.Context, key string, opts *storage.PostOptions) (storage.PostForm, error) {
	c := s.begin(ctx, "signed_post", key)
	form, err := s.s.SignedPost(c.ctx, key, opts)
	c.end(err, -1)
	return form, err
}

// CheckKey reports, as the wrapped Storage does when it can tell, whether
// it can store key; nil when it cannot tell.
func (s *store) CheckKey(key string) error {
	if checker, ok := s.s.(interface{ CheckKey(string) error }); ok {
		return checker.CheckKey(key)
	}
	return nil
}

func (s *store) Close() error { return s.s.Close() }

// String describes the wrapped Storage.
func (s *store) String() string { return fmt.Sprint(s.s) }

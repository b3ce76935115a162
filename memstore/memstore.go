// Package memstore is a [storage.Storage] that keeps its objects in memory:
// the store to use in the unit tests of a program that stores files, on any
// system, with nothing to set up or clean.
//
// It is built on the public API of package storage alone, and passes the same
// conformance suite ([github.com/orga-server/storage/storagetest.Run]) as the
// S3 and local-disk backends: it is also the example to follow when writing
// a backend of your own.
package memstore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orga-server/storage"
)

// Store is an in-memory Storage. Its zero value is an empty store, ready to
// use; it must not be copied after first use. All methods are safe for
// concurrent use.
//
// A Put reads its whole body into memory before storing it, which is the
// store. After Close, every call fails with an error matching fs.ErrClosed.
type Store struct {
	// BaseURL is what URL puts before an escaped key; "" means
	// "http://memstore.invalid/", which no one serves.
	BaseURL string

	mu      sync.RWMutex
	objects map[string]*object
	closed  bool
}

// object is one stored object: its bytes never change once stored, so a
// Reader can stream them without holding the lock.
type object struct {
	data []byte
	info storage.Info
}

var _ storage.Storage = (*Store)(nil)

// errClosed wraps fs.ErrClosed, for every call after Close.
var errClosed = fmt.Errorf("the store is closed: %w", fs.ErrClosed)

// errNoObject matches fs.ErrNotExist, as every backend's missing object does.
var errNoObject = fmt.Errorf("object does not exist: %w", fs.ErrNotExist)

func opErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	return &storage.OpError{Op: op, Key: key, Err: err}
}

// Put stores r's bytes under key, once all of them are read: a failed or
// cancelled Put leaves the previous object in place.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	info, err := s.put(ctx, key, r, opts)
	return info, opErr("put", key, err)
}

func (s *Store) put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	prepared, body, err := storage.PreparePut(ctx, key, r, opts)
	if err != nil {
		return storage.Info{}, err
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(body); err != nil {
		return storage.Info{}, err
	}
	obj := &object{
		data: buf.Bytes(),
		info: storage.Info{
			Key:                key,
			Size:               int64(buf.Len()),
			ContentType:        prepared.ContentType,
			ContentDisposition: prepared.ContentDisposition,
			CacheControl:       prepared.CacheControl,
			ETag:               newETag(),
			ModTime:            time.Now().UTC().Truncate(time.Second),
			Metadata:           prepared.Metadata,
			Private:            prepared.Private,
		},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return storage.Info{}, errClosed
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, err
	}
	if s.objects == nil {
		s.objects = make(map[string]*object)
	}
	s.objects[key] = obj
	return obj.info, nil
}

// newETag returns a quoted random ETag: like Local's, it tells versions of
// an object apart without hashing the content.
func newETag() string {
	var b [16]byte
	rand.Read(b[:])
	return `"` + hex.EncodeToString(b[:]) + `"`
}

// lookup returns the object under key, after the checks every read makes.
func (s *Store) lookup(ctx context.Context, key string) (*object, error) {
	if err := storage.ValidateKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errClosed
	}
	obj, ok := s.objects[key]
	if !ok {
		return nil, errNoObject
	}
	return obj, nil
}

// Get opens the object under key.
func (s *Store) Get(ctx context.Context, key string) (*storage.Reader, error) {
	r, err := s.getRange(ctx, key, 0, -1)
	return r, opErr("get", key, err)
}

// GetRange opens length bytes of the object under key, from offset; a
// negative length reads to the end.
func (s *Store) GetRange(ctx context.Context, key string, offset, length int64) (*storage.Reader, error) {
	r, err := s.getRange(ctx, key, offset, length)
	return r, opErr("get range", key, err)
}

func (s *Store) getRange(ctx context.Context, key string, offset, length int64) (*storage.Reader, error) {
	obj, err := s.lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: negative offset %d", fs.ErrInvalid, offset)
	}
	data := obj.data[min(offset, int64(len(obj.data))):]
	if length >= 0 && length < int64(len(data)) {
		data = data[:length]
	}
	return storage.NewReader(&ctxReader{ctx: ctx, r: bytes.NewReader(data)}, obj.info), nil
}

// ctxReader stops reading once the context given to Get is done, as the
// other backends' Readers do.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (c *ctxReader) Close() error { return nil }

// Stat describes the object under key.
func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	obj, err := s.lookup(ctx, key)
	if err != nil {
		return storage.Info{}, opErr("stat", key, err)
	}
	return obj.info, nil
}

// Delete removes the object under key; a missing one is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	return opErr("delete", key, s.delete(ctx, key))
}

func (s *Store) delete(ctx context.Context, key string) error {
	if err := storage.ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	delete(s.objects, key)
	return nil
}

// List yields the objects under prefix in byte order of key, from a
// snapshot taken when the listing starts.
func (s *Store) List(ctx context.Context, prefix string, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		infos, err := s.list(ctx, prefix, opts)
		if err != nil {
			yield(storage.Info{}, opErr("list", prefix, err))
			return
		}
		for _, info := range infos {
			if err := ctx.Err(); err != nil {
				yield(storage.Info{}, opErr("list", prefix, err))
				return
			}
			if !yield(info, nil) {
				return
			}
		}
	}
}

func (s *Store) list(ctx context.Context, prefix string, opts *storage.ListOptions) ([]storage.Info, error) {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var delim string
	if opts != nil {
		delim = opts.Delimiter
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errClosed
	}
	var infos []storage.Info
	for _, key := range slices.Sorted(maps.Keys(s.objects)) {
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		if i := strings.Index(rest, delim); delim != "" && i >= 0 {
			dir := prefix + rest[:i+len(delim)]
			if n := len(infos); n == 0 || infos[n-1].Key != dir {
				infos = append(infos, storage.Info{Key: dir, IsDir: true})
			}
			continue
		}
		info := s.objects[key].info
		infos = append(infos, storage.Info{Key: info.Key, Size: info.Size, ETag: info.ETag, ModTime: info.ModTime})
	}
	return infos, nil
}

// Copy copies the object under src to dst, with its attributes.
func (s *Store) Copy(ctx context.Context, dst, src string) (storage.Info, error) {
	if err := storage.ValidateKey(dst); err != nil {
		return storage.Info{}, opErr("copy", dst, err)
	}
	obj, err := s.lookup(ctx, src)
	if err != nil {
		return storage.Info{}, opErr("copy", src, err)
	}
	if dst == src {
		return obj.info, nil // nothing to change, as S3 and Local do
	}
	cp := *obj // the bytes are never changed, so they can be shared
	cp.info.Key = dst
	cp.info.ETag = newETag()
	cp.info.ModTime = time.Now().UTC().Truncate(time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return storage.Info{}, opErr("copy", dst, errClosed)
	}
	if s.objects == nil {
		s.objects = make(map[string]*object)
	}
	s.objects[dst] = &cp
	return cp.info, nil
}

// URL returns BaseURL followed by the escaped key. Nothing serves it.
func (s *Store) URL(key string) (string, error) {
	if err := storage.ValidateKey(key); err != nil {
		return "", opErr("url", key, err)
	}
	base := cmp.Or(s.BaseURL, "http://memstore.invalid/")
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base + escape(key), nil
}

// escape escapes each segment of key for a URL path, keeping its slashes.
func escape(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

// SignedURL checks key and opts as every backend does and returns the
// object's URL: nothing in memory is served, so nothing is signed. It lets
// code that hands out signed URLs run its tests.
func (s *Store) SignedURL(ctx context.Context, key string, opts *storage.SignOptions) (string, error) {
	if err := storage.ValidateKey(key); err != nil {
		return "", opErr("sign", key, err)
	}
	if err := opts.Validate(); err != nil {
		return "", opErr("sign", key, err)
	}
	if err := ctx.Err(); err != nil {
		return "", opErr("sign", key, err)
	}
	return s.URL(key)
}

// SignedPost checks key and opts as every backend does and then fails with
// an error wrapping errors.ErrUnsupported: a Store serves no HTTP, so no form
// could post to it.
func (s *Store) SignedPost(ctx context.Context, key string, opts *storage.PostOptions) (storage.PostForm, error) {
	if err := storage.ValidatePost(key, opts); err != nil {
		return storage.PostForm{}, opErr("sign", key, err)
	}
	return storage.PostForm{}, opErr("sign", key, fmt.Errorf("memstore serves no HTTP, so it cannot take a form upload: %w", errors.ErrUnsupported))
}

// Close drops every object. Calls after Close fail with fs.ErrClosed;
// closing again returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed, s.objects = true, nil
	return nil
}

package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncObject is one object of the tree the Sync tests copy.
type syncObject struct {
	key  string
	size int
	opts *storage.PutOptions
}

// syncTree returns objects of many sizes, 0 bytes to just over S3's
// multipart threshold (8 MiB) and Local's single-buffer size (256 KiB),
// with every attribute set, private ones, and keys with spaces and
// characters that are not ASCII, all under prefix.
func syncTree(prefix string) []syncObject {
	all := &storage.PutOptions{
		ContentType:        "application/pdf",
		ContentDisposition: `attachment; filename="talk.pdf"; filename*=utf-8''t%C3%A4lk.pdf`,
		CacheControl:       "public, max-age=3600",
		Metadata:           map[string]string{"owner": "7", "title": "Grüße aus Köln"},
	}
	private := *all
	private.Private = true
	return []syncObject{
		{prefix + "empty", 0, nil},
		{prefix + "one byte.txt", 1, &storage.PutOptions{ContentType: "text/plain; charset=utf-8"}},
		{prefix + "events/1/logo.png", 1000, &storage.PutOptions{ContentType: "image/png", CacheControl: "no-cache"}},
		{prefix + "events/1/speakers/Zoë Ærø/photo 1.jpg", 256<<10 - 1, &storage.PutOptions{ContentType: "image/jpeg", Metadata: map[string]string{"w": "640"}}},
		{prefix + "events/1/slides/talk.pdf", 256<<10 + 1, all},
		{prefix + "events/2/private/contract.pdf", 5000, &private},
		{prefix + "exports/日本語/just under.bin", 8<<20 - 1, &private},
		{prefix + "exports/日本語/just over.bin", 8<<20 + 1, all},
	}
}

// content returns the bytes of the object of the tree with this key,
// different for each key and each version.
func content(key string, size, version int) []byte {
	seed := sha256.Sum256([]byte(fmt.Sprint(key, version)))
	b := make([]byte, size)
	rand.NewChaCha8(seed).Read(b)
	return b
}

func putTree(t *testing.T, s storage.Storage, tree []syncObject) {
	t.Helper()
	for _, o := range tree {
		_, err := s.Put(context.Background(), o.key, bytes.NewReader(content(o.key, o.size, 0)), o.opts)
		require.NoError(t, err, o.key)
	}
}

func treeBytes(tree []syncObject) int64 {
	var n int64
	for _, o := range tree {
		n += int64(o.size)
	}
	return n
}

// assertSameObjects checks that dst holds exactly src's objects under
// prefix, in content and in every attribute either side keeps.
func assertSameObjects(t *testing.T, dst, src storage.Storage, prefix string) {
	t.Helper()
	ctx := context.Background()
	srcKeys, dstKeys := listKeys(t, src, prefix), listKeys(t, dst, prefix)
	require.Equal(t, srcKeys, dstKeys, "the same keys")
	for _, key := range srcKeys {
		want, err := src.Stat(ctx, key)
		require.NoError(t, err)
		got, err := dst.Stat(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, want.Size, got.Size, key)
		assert.Equal(t, want.ContentType, got.ContentType, key)
		assert.Equal(t, want.ContentDisposition, got.ContentDisposition, key)
		assert.Equal(t, want.CacheControl, got.CacheControl, key)
		assert.Equal(t, want.Metadata, got.Metadata, key)
		assert.Equal(t, digest(t, src, key), digest(t, dst, key), "%s: the same bytes", key)
		srcPrivate, srcKnown, err := storage.IsPrivate(ctx, src, key)
		require.NoError(t, err)
		dstPrivate, dstKnown, err := storage.IsPrivate(ctx, dst, key)
		require.NoError(t, err)
		if srcKnown && dstKnown {
			assert.Equal(t, srcPrivate, dstPrivate, "%s: private", key)
		}
	}
}

func listKeys(t *testing.T, s storage.Storage, prefix string) []string {
	t.Helper()
	keys := []string{}
	for info, err := range s.List(context.Background(), prefix, nil) {
		require.NoError(t, err)
		keys = append(keys, info.Key)
	}
	return keys
}

// digest returns the SHA-256 of the object's bytes, streamed.
func digest(t *testing.T, s storage.Storage, key string) string {
	t.Helper()
	r, err := s.Get(context.Background(), key)
	require.NoError(t, err, key)
	defer r.Close()
	h := sha256.New()
	_, err = io.Copy(h, r)
	require.NoError(t, err, key)
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestSyncLocalToLocal(t *testing.T) {
	ctx := context.Background()
	src, dst := newLocal(t), newLocal(t)
	tree := syncTree("media/")
	putTree(t, src, tree)
	_, err := src.Put(ctx, "other/outside.txt", strings.NewReader("not under the prefix"), nil)
	require.NoError(t, err)

	res, err := storage.Sync(ctx, dst, src, "media/", nil)
	require.NoError(t, err)
	assert.Equal(t, storage.SyncResult{Copied: len(tree), Bytes: treeBytes(tree)}, res)
	assertSameObjects(t, dst, src, "media/")
	assert.Empty(t, listKeys(t, dst, "other/"), "nothing outside the prefix")
	private, known, err := storage.IsPrivate(ctx, dst, "media/events/2/private/contract.pdf")
	require.NoError(t, err)
	assert.True(t, known && private, "Private travels")

	res, err = storage.Sync(ctx, dst, src, "media/", nil)
	require.NoError(t, err)
	assert.Equal(t, storage.SyncResult{Skipped: len(tree)}, res, "a second Sync copies nothing")

	// One object changes in content, one in attributes only, one in its
	// Private flag only; one is new in src and one only in dst.
	changed := tree[2]
	_, err = src.Put(ctx, changed.key, bytes.NewReader(content(changed.key, changed.size, 1)), changed.opts)
	require.NoError(t, err)
	_, err = src.Put(ctx, tree[1].key, bytes.NewReader(content(tree[1].key, tree[1].size, 0)), &storage.PutOptions{ContentType: "text/markdown"})
	require.NoError(t, err)
	public := *tree[5].opts
	public.Private = false
	_, err = src.Put(ctx, tree[5].key, bytes.NewReader(content(tree[5].key, tree[5].size, 0)), &public)
	require.NoError(t, err)
	_, err = src.Put(ctx, "media/new.txt", strings.NewReader("new"), nil)
	require.NoError(t, err)
	_, err = dst.Put(ctx, "media/gone.txt", strings.NewReader("only in dst"), nil)
	require.NoError(t, err)
	_, err = dst.Put(ctx, "medium.txt", strings.NewReader("outside the prefix, in dst"), nil)
	require.NoError(t, err)

	res, err = storage.Sync(ctx, dst, src, "media/", &storage.SyncOptions{DryRun: true, Delete: true})
	require.NoError(t, err)
	assert.Equal(t, storage.SyncResult{Copied: 4, Skipped: len(tree) - 3, Deleted: 1, Bytes: int64(changed.size + tree[1].size + tree[5].size + 3)}, res)
	assert.Equal(t, "only in dst", readObject(t, dst, "media/gone.txt"), "a dry run changes nothing")
	assert.NotEqual(t, digest(t, src, changed.key), digest(t, dst, changed.key), "a dry run changes nothing")

	res, err = storage.Sync(ctx, dst, src, "media/", nil)
	require.NoError(t, err)
	assert.Equal(t, storage.SyncResult{Copied: 4, Skipped: len(tree) - 3, Bytes: res.Bytes}, res)
	assert.Equal(t, "only in dst", readObject(t, dst, "media/gone.txt"), "without Delete nothing is removed")

	res, err = storage.Sync(ctx, dst, src, "media/", &storage.SyncOptions{Delete: true})
	require.NoError(t, err)
	assert.Equal(t, storage.SyncResult{Skipped: len(tree) + 1, Deleted: 1}, res)
	assertSameObjects(t, dst, src, "media/")
	assert.Equal(t, "outside the prefix, in dst", readObject(t, dst, "medium.txt"), "nothing outside the prefix is deleted")
	private, _, err = storage.IsPrivate(ctx, dst, tree[5].key)
	require.NoError(t, err)
	assert.False(t, private, "a change of Private alone travels")
}

// failingList is a Storage whose List yields the first n objects and then
// an error, as a listing cut by the network does.
type failingList struct {
	storage.Storage
	n int
}

var errListCut = errors.New("connection reset by peer")

func (f failingList) List(ctx context.Context, prefix string, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		i := 0
		for info, err := range f.Storage.List(ctx, prefix, opts) {
			if i == f.n || err != nil {
				yield(storage.Info{}, errListCut)
				return
			}
			if !yield(info, nil) {
				return
			}
			i++
		}
		yield(storage.Info{}, errListCut)
	}
}

func TestSyncDeleteWithFailingListingDeletesNothing(t *testing.T) {
	ctx := context.Background()
	src, dst := newLocal(t), newLocal(t)
	for _, key := range []string{"a/1", "a/3", "a/5"} {
		_, err := src.Put(ctx, key, strings.NewReader(key), nil)
		require.NoError(t, err)
	}
	for _, key := range []string{"a/0", "a/2", "a/4", "a/6"} {
		_, err := dst.Put(ctx, key, strings.NewReader("only in dst"), nil)
		require.NoError(t, err)
	}
	for n := range 4 {
		res, err := storage.Sync(ctx, dst, failingList{src, n}, "a/", &storage.SyncOptions{Delete: true})
		require.ErrorIs(t, err, errListCut, "cut after %d", n)
		assert.Contains(t, err.Error(), `storage: sync "a/": list `)
		assert.Zero(t, res.Deleted, "cut after %d", n)
		for _, key := range []string{"a/0", "a/2", "a/4", "a/6"} {
			assert.Equal(t, "only in dst", readObject(t, dst, key), "cut after %d", n)
		}
	}
	res, err := storage.Sync(ctx, dst, src, "a/", &storage.SyncOptions{Delete: true})
	require.NoError(t, err)
	assert.Equal(t, 4, res.Deleted)
	assert.Equal(t, []string{"a/1", "a/3", "a/5"}, listKeys(t, dst, "a/"))
}

// refusingPut is a Storage whose Put fails for one key.
type refusingPut struct {
	storage.Storage
	key string
}

func (r refusingPut) Put(ctx context.Context, key string, body io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	if key == r.key {
		return storage.Info{}, fmt.Errorf("access denied: %w", fs.ErrPermission)
	}
	return r.Storage.Put(ctx, key, body, opts)
}

func TestSyncReportsFailedKeysAndSyncsTheRest(t *testing.T) {
	ctx := context.Background()
	src, dst := newLocal(t), newLocal(t)
	for _, key := range []string{"a/1", "a/2", "a/3"} {
		_, err := src.Put(ctx, key, strings.NewReader(key), nil)
		require.NoError(t, err)
	}
	res, err := storage.Sync(ctx, refusingPut{dst, "a/2"}, src, "a/", nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrPermission)
	assert.Equal(t, 2, res.Copied)
	require.Len(t, res.Failed, 1)
	assert.Equal(t, "a/2", res.Failed[0].Key)
	assert.Equal(t, `storage: sync "a/2": put to storage_test.refusingPut: access denied: permission denied`, res.Failed[0].Error())
	assert.Equal(t, `storage: sync: 1 object failed, the first "a/2": put to storage_test.refusingPut: access denied: permission denied`, err.Error())
	assert.Equal(t, []string{"a/1", "a/3"}, listKeys(t, dst, "a/"))

	_, err = storage.Sync(ctx, dst, src, "a//", nil)
	assert.ErrorIs(t, err, storage.ErrInvalidKey)
	_, err = storage.Sync(ctx, dst, src, "a/", &storage.SyncOptions{Concurrency: -1})
	assert.ErrorIs(t, err, fs.ErrInvalid)
}

// TestSyncInterrupted cancels Syncs at many points: each leaves every key
// of dst absent or whole, and a last Sync finishes, skipping what the
// earlier ones copied.
func TestSyncInterrupted(t *testing.T) {
	ctx := context.Background()
	src, dst := newLocal(t), newLocal(t)
	var tree []syncObject
	for i := range 60 {
		tree = append(tree, syncObject{fmt.Sprintf("t/%02d.bin", i), 1 + i*3000, nil})
	}
	putTree(t, src, tree)
	copied := 0
	for stopAfter := int64(1); stopAfter < 60; stopAfter += 7 {
		ctx, cancel := context.WithCancel(ctx)
		var read atomic.Int64
		res, err := storage.Sync(ctx, dst, cancellingGets{src, &read, stopAfter * 1000, cancel}, "t/", &storage.SyncOptions{Concurrency: 4})
		cancel()
		require.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, res.Failed, "an interruption is no failure")
		copied += res.Copied
		for _, key := range listKeys(t, dst, "t/") {
			assert.Equal(t, digest(t, src, key), digest(t, dst, key), "%s: whole or absent", key)
		}
	}
	res, err := storage.Sync(ctx, dst, src, "t/", nil)
	require.NoError(t, err)
	assert.Equal(t, len(tree), res.Copied+res.Skipped)
	assert.Equal(t, copied, res.Skipped, "what the interrupted Syncs copied is skipped")
	assertSameObjects(t, dst, src, "t/")
}

// cancellingGets cancels its context once limit bytes were read from it.
type cancellingGets struct {
	storage.Storage
	read   *atomic.Int64
	limit  int64
	cancel context.CancelFunc
}

func (c cancellingGets) Get(ctx context.Context, key string) (*storage.Reader, error) {
	r, err := c.Storage.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	// The Reader cannot be wrapped; reading through it counts on the
	// caller's side: the context ends as the limit is passed.
	if c.read.Add(r.Info().Size) > c.limit {
		c.cancel()
	}
	return r, nil
}

// TestSyncRacingPuts puts new versions into src while Sync runs: every
// dst object is one whole version, and a Sync after the Puts stop makes
// dst equal to src. Run with -count=20.
func TestSyncRacingPuts(t *testing.T) {
	skipRenameOverOpenUnderWine(t) // the Puts replace files Sync reads
	ctx := context.Background()
	src, dst := newLocal(t), newLocal(t)
	const keys, size = 20, 40 << 10
	versions := make(map[string]bool) // digests of every version put
	var mu sync.Mutex
	put := func(i, v int) {
		key := fmt.Sprintf("r/%02d", i)
		b := content(key, size, v)
		mu.Lock()
		versions[fmt.Sprintf("%x", sha256.Sum256(b))] = true
		mu.Unlock()
		_, err := src.Put(ctx, key, bytes.NewReader(b), &storage.PutOptions{Metadata: map[string]string{"v": fmt.Sprint(v)}})
		assert.NoError(t, err)
	}
	for i := range keys {
		put(i, 0)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for v := 1; ; v++ {
			select {
			case <-stop:
				return
			default:
			}
			put(v%keys, v)
		}
	})
	_, err := storage.Sync(ctx, dst, src, "r/", &storage.SyncOptions{Concurrency: 3})
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	for _, key := range listKeys(t, dst, "r/") {
		assert.True(t, versions[digest(t, dst, key)], "%s holds a whole version", key)
	}
	_, err = storage.Sync(ctx, dst, src, "r/", nil)
	require.NoError(t, err)
	assertSameObjects(t, dst, src, "r/")
}

func TestSyncProgress(t *testing.T) {
	ctx := context.Background()
	src, dst := newLocal(t), newLocal(t)
	tree := syncTree("p/")
	putTree(t, src, tree)
	var calls []storage.SyncProgress
	_, err := storage.Sync(ctx, dst, src, "p/", &storage.SyncOptions{Progress: func(p storage.SyncProgress) { calls = append(calls, p) }})
	require.NoError(t, err)
	require.NotEmpty(t, calls)
	last := calls[len(calls)-1]
	assert.False(t, last.Listing)
	assert.Equal(t, len(tree), last.Listed)
	assert.Equal(t, treeBytes(tree), last.ListedBytes)
	assert.Equal(t, len(tree), last.Copied)
	assert.Equal(t, len(tree), last.Done())
	assert.Equal(t, treeBytes(tree), last.Bytes)
	for i := 1; i < len(calls); i++ {
		assert.LessOrEqual(t, calls[i-1].Bytes, calls[i].Bytes, "bytes only grow")
	}
}

// requestCounter counts the requests an S3 backend sends, by kind.
type requestCounter struct {
	mu   sync.Mutex
	reqs map[string]int
}

func (c *requestCounter) Do(r *http.Request) (*http.Response, error) {
	kind := r.Method
	q := r.URL.Query()
	switch {
	case q.Has("list-type") || q.Has("location") || q.Has("acl"):
		kind += " ?" + strings.Split(r.URL.RawQuery, "=")[0]
	case r.Method == http.MethodGet:
		kind = "GET object"
	}
	c.mu.Lock()
	if c.reqs == nil {
		c.reqs = map[string]int{}
	}
	c.reqs[kind]++
	c.mu.Unlock()
	return http.DefaultClient.Do(r)
}

func (c *requestCounter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.reqs {
		out[k] = v
	}
	return out
}

// countingS3 returns the test bucket's backend, bucket chosen, with its
// requests counted.
func countingS3(t *testing.T, m minio, bucket string) (*storage.S3, *requestCounter) {
	cfg := m.config()
	cfg.Bucket = bucket
	s := newS3(t, cfg)
	c := &requestCounter{}
	storage.SendThrough(s, c)
	return s, c
}

// syncTwice syncs the tree from src to dst, compares them, and syncs
// again, which must copy nothing and, counted by requests on the S3 side
// or sides, neither read nor write an object.
func syncTwice(t *testing.T, dst, src storage.Storage, requests ...*requestCounter) {
	t.Helper()
	ctx := context.Background()
	tree := syncTree("media/")
	putTree(t, src, tree)
	res, err := storage.Sync(ctx, dst, src, "media/", nil)
	require.NoError(t, err)
	assert.Equal(t, storage.SyncResult{Copied: len(tree), Bytes: treeBytes(tree)}, res)
	assertSameObjects(t, dst, src, "media/")

	var before []map[string]int
	for _, r := range requests {
		counts := r.counts()
		require.Positive(t, counts["GET object"]+counts["PUT"], "the first Sync moved objects through the counter: %v", counts)
		before = append(before, counts)
	}
	res, err = storage.Sync(ctx, dst, src, "media/", &storage.SyncOptions{Delete: true})
	require.NoError(t, err)
	assert.Equal(t, storage.SyncResult{Skipped: len(tree)}, res, "a second Sync copies nothing")
	for i, r := range requests {
		after := r.counts()
		for _, kind := range []string{"GET object", "PUT", "POST", "DELETE"} {
			assert.Equal(t, before[i][kind], after[kind], "no %s request in the second Sync: %v", kind, after)
		}
	}
}

func TestSyncLocalToS3(t *testing.T) {
	m := needMinIO(t)
	dst, requests := countingS3(t, m, m.bucket)
	empty(t, dst)
	t.Cleanup(func() { empty(t, dst) })
	syncTwice(t, dst, newLocal(t), requests)
}

func TestSyncS3ToLocal(t *testing.T) {
	m := needMinIO(t)
	src, requests := countingS3(t, m, m.bucket)
	empty(t, src)
	t.Cleanup(func() { empty(t, src) })
	syncTwice(t, newLocal(t), src, requests)
}

func TestSyncS3ToS3(t *testing.T) {
	m := needMinIO(t)
	src, srcRequests := countingS3(t, m, m.bucket)
	dst, dstRequests := countingS3(t, m, m.publicBucket)
	for _, s := range []*storage.S3{src, dst} {
		empty(t, s)
		t.Cleanup(func() { empty(t, s) })
	}
	syncTwice(t, dst, src, srcRequests, dstRequests)
}

// renamed shows src's object from under another key, as a source that
// takes keys Local cannot store would list it.
type renamed struct {
	storage.Storage
	from, to string
}

func (r renamed) List(ctx context.Context, prefix string, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		for info, err := range r.Storage.List(ctx, prefix, opts) {
			if info.Key == r.from {
				info.Key = r.to
			}
			if !yield(info, err) {
				return
			}
		}
	}
}

func (r renamed) Get(ctx context.Context, key string) (*storage.Reader, error) {
	if key == r.to {
		key = r.from
	}
	return r.Storage.Get(ctx, key)
}

func (r renamed) Stat(ctx context.Context, key string) (storage.Info, error) {
	if key == r.to {
		key = r.from
	}
	return r.Storage.Stat(ctx, key)
}

// TestSyncCorruptedSource syncs a file whose bytes no longer hash to the
// MD5 that Local stored with it, as after a bit flip on disk: the copy's
// MD5 tells, and Sync reports the key and syncs the rest.
func TestSyncCorruptedSource(t *testing.T) {
	ctx := context.Background()
	src, dst := newLocal(t), newLocal(t)
	for _, key := range []string{"m/a.txt", "m/b.txt"} {
		_, err := src.Put(ctx, key, strings.NewReader("hello, world"), nil)
		require.NoError(t, err)
	}
	f, err := os.OpenFile(filepath.Join(src.Dir(), "m", "a.txt"), os.O_RDWR, 0)
	require.NoError(t, err)
	fi, err := f.Stat()
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("W"), fi.Size()-int64(len("world"))) // the object's bytes end the file
	require.NoError(t, err)
	require.NoError(t, f.Close())

	res, err := storage.Sync(ctx, dst, src, "m/", nil)
	require.Error(t, err)
	require.Len(t, res.Failed, 1)
	assert.Equal(t, "m/a.txt", res.Failed[0].Key)
	assert.Contains(t, res.Failed[0].Error(), "data corrupted")
	assert.Equal(t, 1, res.Copied, "the rest is synced")
}

// TestSyncKeyDstCannotStore syncs a key with a segment over the 255 bytes
// Local's file system takes (S3 takes 1024): it fails alone, named.
func TestSyncKeyDstCannotStore(t *testing.T) {
	ctx := context.Background()
	src, dst := newLocal(t), newLocal(t)
	for _, key := range []string{"m/a", "m/x.txt", "m/z"} {
		_, err := src.Put(ctx, key, strings.NewReader(key), nil)
		require.NoError(t, err)
	}
	long := "m/x" + strings.Repeat("y", 300)
	res, err := storage.Sync(ctx, dst, renamed{src, "m/x.txt", long}, "m/", nil)
	require.Error(t, err)
	require.Len(t, res.Failed, 1)
	assert.Equal(t, long, res.Failed[0].Key)
	assert.True(t, strings.HasPrefix(res.Failed[0].Error(), `storage: sync "`+long+`": put to local:`+dst.Dir()+": "), res.Failed[0].Error())
	assert.Equal(t, 2, res.Copied, "the rest is synced")
	assert.Equal(t, []string{"m/a", "m/z"}, listKeys(t, dst, "m/"))
}

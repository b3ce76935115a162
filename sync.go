package storage

import (
	"bufio"
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SyncOptions controls Sync. A nil *SyncOptions is the same as a zero one.
type SyncOptions struct {
	Concurrency int                // objects in flight; 0 = a measured default
	DryRun      bool               // report, change nothing
	Delete      bool               // also delete dst objects under prefix that src lacks
	Progress    func(SyncProgress) // called often enough to drive a progress bar
}

// SyncResult reports what Sync did, or would do with DryRun.
type SyncResult struct {
	Copied, Skipped, Deleted int         // objects
	Bytes                    int64       // bytes copied
	Failed                   []SyncError // per-key failures; Sync returns an error when not empty
}

// SyncProgress is a snapshot of a running Sync, for a progress bar. The
// totals grow while Listing is true.
type SyncProgress struct {
	Listed      int   // objects found in src so far
	ListedBytes int64 // their total size
	Listing     bool  // src is still being listed

	Copied, Skipped, Deleted, Failed int
	Bytes                            int64 // copied so far, in-flight objects included
	Elapsed                          time.Duration
}

// Done returns how many of the objects listed so far are dealt with.
func (p SyncProgress) Done() int { return p.Copied + p.Skipped + p.Failed }

// SyncError is Sync's failure on one key, naming the key and the side:
// `storage: sync "events/1/logo.png": put to s3://media: …`.
type SyncError struct {
	Key string
	Op  string // what failed and on which side: "get from local:/srv/media", "put to s3://media"…
	Err error
}

func (e *SyncError) Error() string {
	return "storage: sync " + strconv.Quote(e.Key) + ": " + e.Op + ": " + cause(e.Err, e.Key).Error()
}

func (e *SyncError) Unwrap() error { return e.Err }

// cause returns err without the `storage: op "key":` of an operation on
// key, which a SyncError already says.
func cause(err error, key string) error {
	var op *OpError
	if errors.As(err, &op) && op.Key == key {
		return op.Err
	}
	return err
}

// Sync tuning.
const (
	// syncConcurrency is the default number of objects in flight. Measured
	// on 1,000 objects of 4 KiB-1 MiB from Local to MinIO over loopback
	// (2 busy cores), the first Sync took 9.0 s with 4, 6.9 s with 8,
	// 5.7 s with 16 and 5.0 s with 32, which holds twice the buffers.
	syncConcurrency = 16
	// syncCheckers is the least number of objects compared at once: a
	// comparison costs a request or two and no buffer, so that more of them
	// than copies are in flight, as rclone's checkers are (see
	// BENCHMARKS.md for the rerun this was measured on).
	syncCheckers = 64
	// multipartPartSize is the part size of S3's multipart uploads here,
	// which Sync needs to recompute their ETags.
	multipartPartSize = 8 << 20
	// syncLargeObjects bounds the objects above multipartPartSize in
	// flight, each of which S3's Put buffers several parts of.
	syncLargeObjects = 2
	// maxSyncFailures bounds SyncResult.Failed; the error counts the rest.
	maxSyncFailures = 1000
	// syncSpoolInMemory is how many keys to delete Sync keeps in memory
	// before it spools them to a temporary file.
	syncSpoolInMemory = 4096
	// syncProgressEvery is how often Progress is called.
	syncProgressEvery = 100 * time.Millisecond
)

// Sync makes every object under prefix in src exist in dst with the same content and
// attributes, copying only what differs, and returns what it did. It can be run again
// after any failure or interruption and picks up where it stopped.
//
// Objects are the same when their sizes, MD5 ETags (see [Info]; a [Local]
// side is hashed to match a multipart one) and attributes agree, Private where
// both sides tell it; objects without comparable checksums, such as SSE-KMS
// ones, are copied every run. Each copy is one streamed Get and Put, so that dst
// holds the old object or the new one whole whatever happens; a killed Sync's
// multipart upload is aborted by the next Sync on the same machine and account.
// Keys that fail, such as those dst cannot store, are reported in Failed (up to
// 1,000) and the rest synced, and Sync returns an error; a failed listing stops
// it. With opts.Delete, dst objects under prefix that src lacks are deleted,
// once src was listed whole without error; nothing else ever is.
//
// Memory stays bounded whatever the number of objects: Sync merges the two
// listings page by page, holds opts.Concurrency copies (256 KiB each; those of
// objects over 8 MiB to S3, 40 MiB each, two at a time) and 64 comparisons,
// and spools keys to delete beyond 4,096 to a temporary file. opts.Progress is
// called from one goroutine at a time, every 100 ms and at the end.
func Sync(ctx context.Context, dst, src Storage, prefix string, opts *SyncOptions) (SyncResult, error) {
	if err := ValidatePrefix(prefix); err != nil {
		return SyncResult{}, wrapErr("sync", prefix, err)
	}
	if opts == nil {
		opts = &SyncOptions{}
	}
	if opts.Concurrency < 0 {
		return SyncResult{}, wrapErr("sync", prefix, fmt.Errorf("%w: negative concurrency %d", fs.ErrInvalid, opts.Concurrency))
	}
	if err := ctx.Err(); err != nil {
		return SyncResult{}, wrapErr("sync", prefix, err)
	}
	_, srcWhole := src.(*Local)
	_, dstWhole := dst.(*Local)
	s := &syncer{
		dst: dst, src: src, prefix: prefix, opts: opts,
		dstName: syncName(dst), srcName: syncName(src),
		srcWhole: srcWhole, dstWhole: dstWhole,
		copying: make(chan struct{}, cmp.Or(opts.Concurrency, syncConcurrency)),
		large:   make(chan struct{}, syncLargeObjects),
		start:   time.Now(),
	}
	s.listing.Store(true)
	return s.run(ctx)
}

// syncBackend is what Sync asks of a backend beyond Storage, as
// DeletePrefix asks prefixDeleter. Other implementations of Storage are
// synced too, without privacy and under the name of their type.
type syncBackend interface {
	// syncName names the storage in errors: local:DIR, s3://BUCKET.
	syncName() string
	// syncPrivate reports whether key is stored as PutOptions.Private
	// does; known is false where the backend cannot tell.
	syncPrivate(ctx context.Context, key string) (private, known bool, err error)
	// syncStatsPrivate reports whether Stat's Info.Private is known, so
	// that a Stat answers syncPrivate too.
	syncStatsPrivate() bool
	// syncMD5ETags reports whether an ETag that looks like an MD5 is the
	// MD5 of the content: not so under SSE-KMS on S3.
	syncMD5ETags() bool
	// syncLocal reports whether reading the storage costs no network, so
	// that Sync may hash its copy of an object rather than copy it again.
	syncLocal() bool
}

// etagKindIn is etagKind for an ETag given by s, where an ETag that looks
// like an MD5 may be none (see syncBackend), and is none where s said so in
// note, that of the Get or Put that answered it (nil for a listing's).
func etagKindIn(s Storage, etag string, note *etagNote) int {
	kind := etagKind(etag)
	if kind != md5ETag {
		return kind
	}
	if b, ok := s.(syncBackend); ok && !b.syncMD5ETags() || note != nil && note.notMD5.Load() {
		return otherETag
	}
	return kind
}

// etagNote, in the context of copyObject's Get and Put, is where a backend
// marks an answer whose ETag looks like an MD5 but is none, which only the
// answer tells: S3's for an object the bucket encrypts with SSE-KMS by
// default, unasked.
type etagNote struct{ notMD5 atomic.Bool }

type etagNoteKey struct{}

func withETagNote(ctx context.Context) (context.Context, *etagNote) {
	note := new(etagNote)
	return context.WithValue(ctx, etagNoteKey{}, note), note
}

// noteETag marks the etagNote ctx carries, if any, when the ETag answered
// is no MD5.
func noteETag(ctx context.Context, isMD5 bool) {
	if note, ok := ctx.Value(etagNoteKey{}).(*etagNote); ok && !isMD5 {
		note.notMD5.Store(true)
	}
}

// syncList lists s for Sync. A *Local's listing gives each Info whole,
// attributes and Private included, read with the size and ETag, so that
// Sync needs no Stat of its objects; a type that embeds one may list
// otherwise, and is listed with its List.
func syncList(ctx context.Context, s Storage, prefix string) iter.Seq2[Info, error] {
	if l, ok := s.(*Local); ok {
		return l.syncList(ctx, prefix)
	}
	return s.List(ctx, prefix, nil)
}

func syncName(s Storage) string {
	if b, ok := s.(syncBackend); ok {
		return b.syncName()
	}
	return fmt.Sprintf("%T", s)
}

// readsLocally reports whether reading s costs no network (syncLocal).
func readsLocally(s Storage) bool {
	b, ok := s.(syncBackend)
	return ok && b.syncLocal()
}

// syncer is one run of Sync.
type syncer struct {
	dst, src         Storage
	dstName, srcName string
	prefix           string
	opts             *SyncOptions
	// srcWhole and dstWhole tell the sides whose listings give each Info
	// whole (see syncList).
	srcWhole, dstWhole bool
	copying            chan struct{} // slots for objects being copied: opts.Concurrency
	large              chan struct{} // slots for objects over multipartPartSize
	start              time.Time

	// Counters, read by the progress reporter while workers add to them.
	listed, copied, skipped, deleted, failed atomic.Int64
	listedBytes, bytes, copiedBytes          atomic.Int64
	listing                                  atomic.Bool

	mu       sync.Mutex
	failures []SyncError
}

// syncJob is one key to sync: listed in src, and in dst when dst is not nil.
type syncJob struct {
	src Info
	dst *Info
}

// uploadJournaler is what a backend that a killed Sync can leave with
// stored parts of unfinished uploads does for Sync: see S3's journalUploads.
type uploadJournaler interface {
	journalUploads(ctx context.Context) (_ context.Context, end func())
}

func (s *syncer) run(ctx context.Context) (SyncResult, error) {
	if j, ok := s.dst.(uploadJournaler); ok && !s.opts.DryRun {
		var end func()
		ctx, end = j.journalUploads(ctx)
		defer end()
	}
	var spool *keySpool
	if s.opts.Delete {
		spool = &keySpool{}
		defer spool.close()
	}
	stopProgress := s.reportProgress()
	// Workers compare; copying bounds those that copy.
	workers := max(cap(s.copying), syncCheckers)

	jobs := make(chan syncJob)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for job := range jobs {
				s.syncKey(ctx, job)
			}
		})
	}
	listErr := s.merge(ctx, jobs, spool)
	close(jobs)
	wg.Wait()
	s.listing.Store(false)

	if listErr == nil && ctx.Err() == nil && spool != nil {
		listErr = s.deleteSpooled(ctx, spool, workers)
	}
	stopProgress()

	result := SyncResult{
		Copied: int(s.copied.Load()), Skipped: int(s.skipped.Load()), Deleted: int(s.deleted.Load()),
		Bytes: s.copiedBytes.Load(),
	}
	slices.SortFunc(s.failures, func(a, b SyncError) int { return strings.Compare(a.Key, b.Key) })
	result.Failed = s.failures
	switch {
	case listErr != nil:
		return result, wrapErr("sync", s.prefix, listErr)
	case ctx.Err() != nil:
		return result, wrapErr("sync", s.prefix, ctx.Err())
	case len(result.Failed) > 0:
		return result, &syncFailedError{n: int(s.failed.Load()), first: &result.Failed[0]}
	}
	return result, nil
}

// syncFailedError is what Sync returns when some keys failed.
type syncFailedError struct {
	n     int
	first *SyncError
}

func (e *syncFailedError) Error() string {
	what := "1 object"
	if e.n != 1 {
		what = strconv.Itoa(e.n) + " objects"
	}
	return fmt.Sprintf("storage: sync: %s failed, the first %q: %s: %v", what, e.first.Key, e.first.Op, cause(e.first.Err, e.first.Key))
}

func (e *syncFailedError) Unwrap() error { return e.first }

// merge lists src and dst side by side, both in key order, and hands each
// src object to the workers with its dst namesake, if any. Keys only dst
// has go to spool when it is not nil. It returns the first listing error.
func (s *syncer) merge(ctx context.Context, jobs chan<- syncJob, spool *keySpool) error {
	nextSrc, stopSrc := iter.Pull2(syncList(ctx, s.src, s.prefix))
	defer stopSrc()
	nextDst, stopDst := iter.Pull2(syncList(ctx, s.dst, s.prefix))
	defer stopDst()

	srcInfo, srcErr, srcOK := nextSrc()
	dstInfo, dstErr, dstOK := nextDst()
	for {
		switch {
		case srcOK && srcErr != nil:
			return fmt.Errorf("list %s: %w", s.srcName, cause(srcErr, s.prefix))
		case dstOK && dstErr != nil:
			return fmt.Errorf("list %s: %w", s.dstName, cause(dstErr, s.prefix))
		case !srcOK && !dstOK:
			return nil
		}
		var job syncJob
		switch {
		case srcOK && (!dstOK || srcInfo.Key < dstInfo.Key):
			job = syncJob{src: srcInfo}
			srcInfo, srcErr, srcOK = nextSrc()
		case !srcOK || dstInfo.Key < srcInfo.Key:
			if spool != nil {
				if err := spool.add(dstInfo.Key); err != nil {
					return err
				}
			}
			dstInfo, dstErr, dstOK = nextDst()
			continue
		default:
			d := dstInfo
			job = syncJob{src: srcInfo, dst: &d}
			srcInfo, srcErr, srcOK = nextSrc()
			dstInfo, dstErr, dstOK = nextDst()
		}
		s.listed.Add(1)
		s.listedBytes.Add(job.src.Size)
		select {
		case jobs <- job:
		case <-ctx.Done():
			return nil // run reports ctx.Err()
		}
	}
}

// syncKey syncs one key, and counts or records what came of it.
func (s *syncer) syncKey(ctx context.Context, job syncJob) {
	key := job.src.Key
	copied, op, err := s.syncObject(ctx, job)
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return // interrupted, not failed: Sync returns ctx.Err()
		}
		s.fail(SyncError{Key: key, Op: op, Err: err})
	case copied:
		s.copied.Add(1)
	default:
		s.skipped.Add(1)
	}
}

func (s *syncer) fail(e SyncError) {
	s.failed.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) < maxSyncFailures {
		s.failures = append(s.failures, e)
	}
}

// syncObject copies the object unless dst holds it already; op says what
// failed, and where.
func (s *syncer) syncObject(ctx context.Context, job syncJob) (copied bool, op string, err error) {
	key := job.src.Key
	if job.dst != nil {
		same, op, err := s.same(ctx, job.src, *job.dst)
		if err != nil {
			return false, op, err
		}
		if same {
			return false, "", nil
		}
	}
	if s.opts.DryRun {
		s.copiedBytes.Add(job.src.Size)
		s.bytes.Add(job.src.Size)
		return true, "", nil
	}
	select {
	case s.copying <- struct{}{}:
		defer func() { <-s.copying }()
	case <-ctx.Done():
		return false, "", ctx.Err()
	}
	if job.src.Size > multipartPartSize {
		select {
		case s.large <- struct{}{}:
			defer func() { <-s.large }()
		case <-ctx.Done():
			return false, "", ctx.Err()
		}
	}
	return s.copyObject(ctx, key)
}

// copyObject copies key from src to dst with its attributes, streamed.
func (s *syncer) copyObject(ctx context.Context, key string) (copied bool, op string, err error) {
	getCtx, got := withETagNote(ctx)
	r, err := s.src.Get(getCtx, key)
	if errors.Is(err, fs.ErrNotExist) {
		// Deleted from src since it was listed: there is nothing to copy,
		// and not copying it is what a Sync a moment later would do.
		return false, "", nil
	}
	if err != nil {
		return false, "get from " + s.srcName, err
	}
	defer r.Close()
	info := r.Info()
	private, _, err := privacy(ctx, s.src, key)
	if err != nil {
		return false, "read the ACL on " + s.srcName, err
	}
	putCtx, stored := withETagNote(ctx)
	put, err := s.dst.Put(putCtx, key, &progressReader{r: r, n: &s.bytes}, &PutOptions{
		ContentType:        info.ContentType,
		ContentDisposition: info.ContentDisposition,
		CacheControl:       info.CacheControl,
		Metadata:           info.Metadata,
		Private:            private,
	})
	if err != nil {
		var body *bodyError
		if errors.As(err, &body) {
			return false, "get from " + s.srcName, body.err
		}
		return false, "put to " + s.dstName, err
	}
	if etagKindIn(s.src, info.ETag, got) == md5ETag && etagKindIn(s.dst, put.ETag, stored) == md5ETag && info.ETag != put.ETag {
		return false, "put to " + s.dstName, fmt.Errorf("data corrupted: the copy's MD5 %s differs from the source's %s", put.ETag, info.ETag)
	}
	s.copiedBytes.Add(put.Size)
	return true, "", nil
}

// progressReader counts the bytes read, for progress.
type progressReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *progressReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// privacy reports whether key is private on s; known is false where s
// cannot tell.
func privacy(ctx context.Context, s Storage, key string) (private, known bool, err error) {
	if b, ok := s.(syncBackend); ok {
		return b.syncPrivate(ctx, key)
	}
	return false, false, nil
}

// same reports whether dst holds src's object already, content and
// attributes; op says what failed, and where.
func (s *syncer) same(ctx context.Context, src, dst Info) (same bool, op string, err error) {
	same, op, err = s.sameContent(ctx, src, dst)
	if err != nil || !same {
		return false, op, err
	}
	// Most listings give no attributes: Stat those sides.
	srcInfo, dstInfo := src, dst
	if !s.srcWhole {
		srcInfo, err = s.src.Stat(ctx, src.Key)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return true, "", nil // deleted from src since: nothing to copy
			}
			return false, "stat on " + s.srcName, err
		}
	}
	if !s.dstWhole {
		dstInfo, err = s.dst.Stat(ctx, dst.Key)
		if errors.Is(err, fs.ErrNotExist) {
			return false, "", nil
		}
		if err != nil {
			return false, "stat on " + s.dstName, err
		}
	}
	if srcInfo.ETag != src.ETag || dstInfo.ETag != dst.ETag {
		return false, "", nil // changed since listed: copy the current one
	}
	if !sameAttributes(srcInfo, dstInfo) {
		return false, "", nil
	}
	srcPrivate, srcKnown := privacyIn(s.src, srcInfo)
	dstPrivate, dstKnown := privacyIn(s.dst, dstInfo)
	return !srcKnown || !dstKnown || srcPrivate == dstPrivate, "", nil
}

// privacyIn is what Sync knows of info's Private, info having come from a
// listing of st that gives attributes (whole) or from its Stat.
func privacyIn(st Storage, info Info) (private, known bool) {
	if b, ok := st.(syncBackend); ok && b.syncStatsPrivate() {
		return info.Private, true
	}
	return false, false
}

// sameAttributes compares what Put takes, as Put stores it.
func sameAttributes(a, b Info) bool {
	return a.ContentType == b.ContentType &&
		a.ContentDisposition == b.ContentDisposition &&
		a.CacheControl == b.CacheControl &&
		maps.Equal(a.Metadata, b.Metadata)
}

// sameContent compares the objects' sizes and checksums (see Sync).
func (s *syncer) sameContent(ctx context.Context, src, dst Info) (same bool, op string, err error) {
	if src.Size != dst.Size {
		return false, "", nil
	}
	srcKind, dstKind := etagKindIn(s.src, src.ETag, nil), etagKindIn(s.dst, dst.ETag, nil)
	if srcKind != otherETag && srcKind == dstKind {
		// Equal multipart ETags mean equal parts: the same content.
		// Different ones may be the same content cut into other parts;
		// copying again settles it.
		return src.ETag == dst.ETag, "", nil
	}
	switch {
	case dstKind != otherETag && readsLocally(s.src):
		same, err = hashMatches(ctx, s.src, src, dst.ETag)
		return same, "get from " + s.srcName, err
	case srcKind != otherETag && readsLocally(s.dst):
		same, err = hashMatches(ctx, s.dst, dst, src.ETag)
		return same, "get from " + s.dstName, err
	}
	return false, "", nil
}

// ETag kinds.
const (
	otherETag     = iota
	md5ETag       // "<MD5 of the content>"
	multipartETag // "<MD5 of the parts' MD5s>-<parts>", as S3 makes
)

func etagKind(etag string) int {
	hexPart, parts, multipart := strings.Cut(strings.Trim(etag, `"`), "-")
	if len(hexPart) != 2*md5.Size || len(etag) < 2 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		return otherETag
	}
	if _, err := hex.DecodeString(hexPart); err != nil || strings.ToLower(hexPart) != hexPart {
		return otherETag
	}
	if !multipart {
		return md5ETag
	}
	if n, err := strconv.Atoi(parts); err != nil || n < 1 || strconv.Itoa(n) != parts {
		return otherETag
	}
	return multipartETag
}

// hashMatches reads the object info describes from s and reports whether
// its bytes give etag, an MD5 or a multipart ETag of multipartPartSize parts as
// S3 makes (another part size tells no match).
func hashMatches(ctx context.Context, s Storage, info Info, etag string) (bool, error) {
	r, err := s.Get(ctx, info.Key)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer r.Close()
	if r.Info().ETag != info.ETag {
		return false, nil // changed since listed
	}
	whole, parts, part := md5.New(), md5.New(), md5.New()
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	n := 0 // parts hashed
	for {
		m, err := io.CopyBuffer(io.MultiWriter(whole, part), io.LimitReader(r, multipartPartSize), *buf)
		if err != nil {
			return false, err
		}
		if m == 0 && n > 0 {
			break
		}
		parts.Write(part.Sum(nil))
		part.Reset()
		n++
		if m < multipartPartSize {
			break
		}
	}
	if etagKind(etag) == md5ETag {
		return etag == `"`+hex.EncodeToString(whole.Sum(nil))+`"`, nil
	}
	return etag == `"`+hex.EncodeToString(parts.Sum(nil))+"-"+strconv.Itoa(n)+`"`, nil
}

// deleteSpooled deletes the keys spooled, workers at a time.
func (s *syncer) deleteSpooled(ctx context.Context, spool *keySpool, workers int) error {
	g, gctx := newGroup(ctx, workers)
	err := spool.each(func(key string) bool {
		if gctx.Err() != nil {
			return false
		}
		if s.opts.DryRun {
			s.deleted.Add(1)
			return true
		}
		g.Go(func() error {
			if err := s.dst.Delete(gctx, key); err != nil {
				if gctx.Err() == nil {
					s.fail(SyncError{Key: key, Op: "delete from " + s.dstName, Err: err})
				}
				return nil
			}
			s.deleted.Add(1)
			return nil
		})
		return true
	})
	g.Wait()
	return err
}

// reportProgress calls opts.Progress every syncProgressEvery until the
// function it returns is called, which reports one last time.
func (s *syncer) reportProgress() (stop func()) {
	if s.opts.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(syncProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.opts.Progress(s.progress())
			case <-done:
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		s.opts.Progress(s.progress())
	}
}

func (s *syncer) progress() SyncProgress {
	return SyncProgress{
		Listed: int(s.listed.Load()), ListedBytes: s.listedBytes.Load(), Listing: s.listing.Load(),
		Copied: int(s.copied.Load()), Skipped: int(s.skipped.Load()), Deleted: int(s.deleted.Load()), Failed: int(s.failed.Load()),
		Bytes: s.bytes.Load(), Elapsed: time.Since(s.start),
	}
}

// keySpool holds the keys Sync may delete once src is listed: in memory up
// to syncSpoolInMemory, then in a temporary file, one key a line (keys hold
// no control characters).
type keySpool struct {
	mem []string
	f   *os.File
	w   *bufio.Writer
}

func (k *keySpool) add(key string) error {
	if k.f == nil && len(k.mem) < syncSpoolInMemory {
		k.mem = append(k.mem, key)
		return nil
	}
	if k.f == nil {
		f, err := os.CreateTemp("", "orga-storage-sync-*")
		if err != nil {
			return fmt.Errorf("spool the keys to delete: %w", err)
		}
		k.f, k.w = f, bufio.NewWriter(f)
	}
	if _, err := k.w.WriteString(key + "\n"); err != nil {
		return fmt.Errorf("spool the keys to delete: %w", err)
	}
	return nil
}

// each calls f with every key in the order added, until f returns false.
func (k *keySpool) each(f func(string) bool) error {
	for _, key := range k.mem {
		if !f(key) {
			return nil
		}
	}
	if k.f == nil {
		return nil
	}
	if err := k.w.Flush(); err != nil {
		return fmt.Errorf("spool the keys to delete: %w", err)
	}
	if _, err := k.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read the spooled keys to delete: %w", err)
	}
	sc := bufio.NewScanner(k.f)
	sc.Buffer(make([]byte, 0, MaxKeyLen+1), MaxKeyLen+1)
	for sc.Scan() {
		if !f(sc.Text()) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read the spooled keys to delete: %w", err)
	}
	return nil
}

func (k *keySpool) close() {
	if k.f != nil {
		k.f.Close()
		os.Remove(k.f.Name())
	}
}

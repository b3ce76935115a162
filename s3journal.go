package storage

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// A Sync killed in the middle of a multipart upload cannot abort it, and S3
// keeps its parts, billed and unseen by listings, until a lifecycle rule or
// an abort removes them. So that the next Sync to the bucket removes them,
// each Sync to an S3 bucket keeps an upload journal: a file of its own, in
// the user's cache directory (os.UserCacheDir()/orga-storage/uploads/, one
// folder per endpoint and bucket), that names every multipart upload it
// begins and says when each ends. The Sync holds an exclusive lock on its
// journal while it runs, which the system drops when the process dies,
// however it dies. A Sync begins by taking the lock of every other journal
// of its bucket: one it gets is a dead Sync's, whose open uploads it aborts
// before removing the journal; one it cannot get is a live Sync's, which it
// leaves alone. Nothing else is ever aborted: not the uploads of a live
// Sync, nor those of any other client.
//
// One upload may lack its ID: that of a Sync killed between sending
// CreateMultipartUpload and receiving the answer, a single round trip. For
// it the next Sync lists the uploads of that key (s3:ListBucketMultipartUploads,
// which the setup guide's policy lacks: then it is left to the lifecycle
// rule) and aborts those begun within s3JournalWindow of the request.
//
// The journal is not synced to disk: it outlives a killed process, not a
// crashed system. Where the cache directory cannot be made, or on systems
// without file locks, Sync goes on without a journal and a killed Sync's
// uploads are left to the lifecycle rule, as for any other client.

// s3JournalWindow bounds, around the time a Sync sent a
// CreateMultipartUpload whose answer it never got, the start of the uploads
// of that key that the next Sync aborts for it: the SDK retries the request
// for at most s3AbortTimeout, and the clocks of client and server may differ
// by a few seconds.
const s3JournalWindow = 15 * time.Second

const journalSuffix = ".journal"

// uploadJournal is the journal of one Sync to one bucket.
type uploadJournal struct {
	bucket string
	root   *os.Root
	name   string

	mu     sync.Mutex
	f      *os.File // nil once closed, or after a failed write
	seq    int
	open   map[int]bool // the uploads begun and not ended
	broken bool         // a write failed: the journal no longer tells all
}

type journalKey struct{}

// withJournal returns ctx carrying j, for uploadClient to record the
// multipart uploads of the Puts made with it.
func withJournal(ctx context.Context, j *uploadJournal) context.Context {
	return context.WithValue(ctx, journalKey{}, j)
}

// journalFrom returns the journal ctx carries for bucket, or nil.
func journalFrom(ctx context.Context, bucket *string) *uploadJournal {
	j, _ := ctx.Value(journalKey{}).(*uploadJournal)
	if j == nil || j.bucket != aws.ToString(bucket) {
		return nil
	}
	return j
}

// journalDir returns the folder of the journals of s's bucket.
func (s *S3) journalDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	id := sha256.Sum256([]byte(s.endpoint + "\n" + s.bucket))
	return filepath.Join(cache, "orga-storage", "uploads", hex.EncodeToString(id[:12])), nil
}

// journalUploads aborts the uploads that dead Syncs to s's bucket left
// open, then starts the journal of this one, which the context returned
// carries; end closes it. Failures are logged, never returned: without a
// journal Sync works as any client does.
func (s *S3) journalUploads(ctx context.Context) (_ context.Context, end func()) {
	log := orDiscard(s.log)
	dir, err := s.journalDir()
	if err == nil {
		err = os.MkdirAll(dir, 0o700)
	}
	var root *os.Root
	if err == nil {
		root, err = os.OpenRoot(dir)
	}
	if err != nil {
		log.WarnContext(ctx, "s3: no upload journal: a sync killed now may leave multipart uploads open", "bucket", s.bucket, "error", err)
		return ctx, func() {}
	}
	s.recoverUploads(ctx, root)
	j, err := newJournal(root, s.bucket)
	if err != nil {
		root.Close()
		log.WarnContext(ctx, "s3: no upload journal: a sync killed now may leave multipart uploads open", "bucket", s.bucket, "error", err)
		return ctx, func() {}
	}
	return withJournal(ctx, j), func() {
		j.close()
		root.Close()
	}
}

// newJournal creates and locks a journal in root.
func newJournal(root *os.Root, bucket string) (*uploadJournal, error) {
	for {
		name := rand.Text() + journalSuffix
		f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		if err := lockFile(f, true); err != nil {
			f.Close()
			root.Remove(name)
			return nil, err
		}
		// Another Sync may have taken this empty journal for a dead one's
		// before the lock was ours, and removed it: make another.
		if gone, err := unlinked(f); err != nil || gone {
			f.Close()
			if err != nil {
				return nil, err
			}
			continue
		}
		return &uploadJournal{bucket: bucket, root: root, name: name, f: f, open: map[int]bool{}}, nil
	}
}

// write appends one record; a failed write marks the journal broken, kept
// for the next Sync to go through as far as it can.
func (j *uploadJournal) write(record string) {
	if j.f == nil {
		return
	}
	if _, err := j.f.WriteString(record + "\n"); err != nil {
		j.broken = true
		j.f.Close()
		j.f = nil
	}
}

// intend records, before CreateMultipartUpload is sent, that an upload of
// key may begin; it returns the upload's number in the journal.
func (j *uploadJournal) intend(key string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	j.open[j.seq] = true
	j.write(fmt.Sprintf("i %d %d %s", j.seq, time.Now().UnixNano(), strconv.Quote(key)))
	return j.seq
}

// created records the ID of upload seq.
func (j *uploadJournal) created(seq int, uploadID string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.write(fmt.Sprintf("c %d %s", seq, strconv.Quote(uploadID)))
}

// ended records that upload seq is completed or aborted, or never began.
func (j *uploadJournal) ended(seq int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.open[seq] {
		return
	}
	delete(j.open, seq)
	j.write(fmt.Sprintf("d %d", seq))
}

// close removes the journal when none of its uploads is open, and else
// keeps it, unlocked, for the next Sync to abort them.
func (j *uploadJournal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil && !j.broken {
		return
	}
	if len(j.open) == 0 && !j.broken {
		j.root.Remove(j.name)
	}
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
	j.broken = false
}

// journaledUpload is an upload that an uploadJournal records.
type journaledUpload struct {
	journal *uploadJournal
	seq     int
}

// journalEntry is an upload as a journal file tells it.
type journalEntry struct {
	key      string
	sent     time.Time // when CreateMultipartUpload was sent
	uploadID string    // "" if its answer never came
}

// readJournal returns the uploads a journal file tells begun and not ended.
func readJournal(f *os.File) ([]journalEntry, error) {
	entries := map[int]*journalEntry{}
	var order []int
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 4*MaxKeyLen+4096)
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		seqText, rest, _ := strings.Cut(rest, " ")
		seq, err := strconv.Atoi(seqText)
		if err != nil {
			continue // a line cut short: the Sync died writing it
		}
		switch kind {
		case "i":
			nanos, quoted, _ := strings.Cut(rest, " ")
			n, err1 := strconv.ParseInt(nanos, 10, 64)
			key, err2 := strconv.Unquote(quoted)
			if err1 == nil && err2 == nil {
				entries[seq] = &journalEntry{key: key, sent: time.Unix(0, n)}
				order = append(order, seq)
			}
		case "c":
			if id, err := strconv.Unquote(rest); err == nil && entries[seq] != nil {
				entries[seq].uploadID = id
			}
		case "d":
			delete(entries, seq)
		}
	}
	var open []journalEntry
	for _, seq := range order {
		if e := entries[seq]; e != nil {
			open = append(open, *e)
		}
	}
	return open, sc.Err()
}

// recoverUploads aborts the open uploads of every dead Sync's journal in
// root and removes the journals it gets through.
func (s *S3) recoverUploads(ctx context.Context, root *os.Root) {
	log := orDiscard(s.log)
	names, err := fs.Glob(root.FS(), "*"+journalSuffix)
	if err != nil {
		return
	}
	for _, name := range names {
		if ctx.Err() != nil {
			return
		}
		f, err := root.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			continue // removed meanwhile by another Sync
		}
		if lockFile(f, false) != nil {
			f.Close() // a live Sync's
			continue
		}
		open, err := readJournal(f)
		done := err == nil
		for _, e := range open {
			if !s.abortJournaled(ctx, e) {
				done = false
			}
		}
		if done {
			root.Remove(name) // while locked, so that no Sync takes it for its own
		} else {
			log.WarnContext(ctx, "s3: a dead sync's upload journal is kept, to be tried again", "bucket", s.bucket, "journal", name, "error", err)
		}
		f.Close()
	}
}

// abortJournaled aborts the upload e, or for one without ID those of e's
// key begun within s3JournalWindow of its request. It reports false when
// trying again may do better.
func (s *S3) abortJournaled(ctx context.Context, e journalEntry) bool {
	log := orDiscard(s.log)
	c, err := s.api(ctx)
	if err != nil {
		return false
	}
	ids := []string{e.uploadID}
	if e.uploadID == "" {
		ids, err = s.uploadsBegun(ctx, c, e.key, e.sent.Add(-s3JournalWindow), e.sent.Add(s3AbortTimeout+s3JournalWindow))
		if err != nil {
			log.WarnContext(ctx, "s3: a dead sync may have left a multipart upload open; listing the key's uploads failed",
				"bucket", s.bucket, "key", e.key, "error", err)
			return refusedForGood(err)
		}
	}
	ok := true
	for _, id := range ids {
		_, err := c.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(s.bucket), Key: aws.String(e.key), UploadId: aws.String(id),
		})
		var gone *types.NoSuchUpload
		switch {
		case err == nil:
			log.InfoContext(ctx, "s3: aborted a multipart upload that a dead sync left open", "bucket", s.bucket, "key", e.key, "upload", id)
		case errors.As(err, &gone), isNotFound(err):
			// Completed or aborted already.
		default:
			log.WarnContext(ctx, "s3: a multipart upload that a dead sync left open could not be aborted",
				"bucket", s.bucket, "key", e.key, "upload", id, "error", err)
			ok = ok && refusedForGood(err)
		}
	}
	return ok
}

// isNotFound reports a 404 answer.
func isNotFound(err error) bool {
	var respErr *awshttp.ResponseError
	return errors.As(err, &respErr) && respErr.HTTPStatusCode() == 404
}

// uploadsBegun returns the IDs of the uploads of key begun between from and to.
func (s *S3) uploadsBegun(ctx context.Context, c *s3Clients, key string, from, to time.Time) ([]string, error) {
	var ids []string
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(key)}
	for {
		out, err := c.api.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, u := range out.Uploads {
			at := aws.ToTime(u.Initiated)
			if aws.ToString(u.Key) == key && !at.Before(from) && !at.After(to) {
				ids = append(ids, aws.ToString(u.UploadId))
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return ids, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

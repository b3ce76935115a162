package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// treeObject is one object of the trees the sync tests copy.
type treeObject struct {
	key  string
	size int
	opts storage.PutOptions
}

// syncTree returns objects of many sizes with every attribute set, private
// ones, and keys with spaces and characters that are not ASCII, under
// prefix.
func syncTree(prefix string) []treeObject {
	all := storage.PutOptions{
		ContentType:        "application/pdf",
		ContentDisposition: `attachment; filename="talk.pdf"; filename*=utf-8''t%C3%A4lk.pdf`,
		CacheControl:       "public, max-age=3600",
		Metadata:           map[string]string{"owner": "7", "title": "Grüße aus Köln"},
	}
	private := all
	private.Private = true
	return []treeObject{
		{prefix + "empty", 0, storage.PutOptions{}},
		{prefix + "one byte.txt", 1, storage.PutOptions{ContentType: "text/plain; charset=utf-8"}},
		{prefix + "events/1/logo.png", 1000, storage.PutOptions{ContentType: "image/png", CacheControl: "no-cache"}},
		{prefix + "events/1/speakers/Zoë Ærø/photo 1.jpg", 256<<10 + 1, storage.PutOptions{ContentType: "image/jpeg", Metadata: map[string]string{"w": "640"}}},
		{prefix + "events/1/slides/talk.pdf", 70 << 10, all},
		{prefix + "events/2/private/contract.pdf", 5000, private},
		{prefix + "exports/日本語/big.bin", 8<<20 + 1, all},
	}
}

// objectBytes returns the content of the object key, different for each
// key and each version.
func objectBytes(key string, size, version int) []byte {
	seed := sha256.Sum256([]byte(fmt.Sprint(key, version)))
	b := make([]byte, size)
	rand.NewChaCha8(seed).Read(b)
	return b
}

// putObjects stores version of the objects in s.
func putObjects(t *testing.T, s storage.Storage, tree []treeObject, version int) {
	t.Helper()
	for _, o := range tree {
		_, err := s.Put(context.Background(), o.key, bytes.NewReader(objectBytes(o.key, o.size, version)), &o.opts)
		require.NoError(t, err, o.key)
	}
}

// openLocal opens the local storage in dir, as the tests' own view of it.
func openLocal(t *testing.T, dir string) *storage.Local {
	t.Helper()
	l, err := storage.NewLocal(dir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// object is what a user checks of an object: its content and attributes.
type object struct {
	Digest                                 string
	Size                                   int64
	ContentType, Disposition, CacheControl string
	Metadata                               map[string]string
	Private                                bool
}

// objects returns the objects under prefix in s by key. S3 does not tell
// Private, so that it is compared between Locals only.
func objects(t *testing.T, s storage.Storage, prefix string) map[string]object {
	t.Helper()
	ctx := context.Background()
	all := map[string]object{}
	for info, err := range s.List(ctx, prefix, nil) {
		require.NoError(t, err)
		r, err := s.Get(ctx, info.Key)
		require.NoError(t, err, info.Key)
		h := sha256.New()
		_, err = io.Copy(h, r)
		r.Close()
		require.NoError(t, err, info.Key)
		got := r.Info()
		all[info.Key] = object{
			Digest: fmt.Sprintf("%x", h.Sum(nil)), Size: got.Size,
			ContentType: got.ContentType, Disposition: got.ContentDisposition, CacheControl: got.CacheControl,
			Metadata: got.Metadata, Private: got.Private,
		}
	}
	return all
}

// summaryRE matches the line sync ends with.
var summaryRE = regexp.MustCompile(`^(\d+) copied \(([^)]+)\), (\d+) skipped, (\d+) deleted, (\d+) failed, in \S+\n$`)

// summary returns the counts of the summary line: copied, skipped,
// deleted, failed.
func summary(t *testing.T, stdout string) [4]string {
	t.Helper()
	m := summaryRE.FindStringSubmatch(stdout)
	require.NotNil(t, m, "summary line: %q", stdout)
	return [4]string{m[1], m[3], m[4], m[5]}
}

func TestSyncLocalToLocal(t *testing.T) {
	work := t.TempDir()
	src := openLocal(t, filepath.Join(work, "static", "media"))
	tree := syncTree("")
	putObjects(t, src, tree, 0)
	want := objects(t, src, "")
	require.Len(t, want, len(tree))

	// Relative directories, as an operator types them.
	out := okIn(t, work, cleanEnv(), "sync", "local:static/media", "local:copy")
	var size int64
	for _, o := range tree {
		size += int64(o.size)
	}
	assert.Equal(t, [4]string{fmt.Sprint(len(tree)), "0", "0", "0"}, summary(t, out))
	assert.True(t, strings.HasPrefix(out, fmt.Sprintf("%d copied (%s), ", len(tree), humanSize(size))), out)
	dst := openLocal(t, filepath.Join(work, "copy"))
	assert.Equal(t, want, objects(t, dst, ""), "every object, content and attributes")
	assert.True(t, want["events/2/private/contract.pdf"].Private, "the tree has a private object")

	// A rerun copies nothing.
	out = okIn(t, work, cleanEnv(), "sync", "local:static/media", "local:copy")
	assert.Equal(t, [4]string{"0", fmt.Sprint(len(tree)), "0", "0"}, summary(t, out))

	// A change of content, and one of an attribute alone, are copied.
	changed := tree[2]
	_, err := src.Put(context.Background(), changed.key, bytes.NewReader(objectBytes(changed.key, changed.size, 1)), &changed.opts)
	require.NoError(t, err)
	attr := tree[4]
	attr.opts.Private = true
	attr.opts.Metadata = map[string]string{"owner": "8"}
	_, err = src.Put(context.Background(), attr.key, bytes.NewReader(objectBytes(attr.key, attr.size, 0)), &attr.opts)
	require.NoError(t, err)
	out = okIn(t, work, cleanEnv(), "sync", "--concurrency", "1", "local:static/media", "local:copy")
	assert.Equal(t, [4]string{"2", fmt.Sprint(len(tree) - 2), "0", "0"}, summary(t, out))
	assert.Equal(t, objects(t, src, ""), objects(t, dst, ""))
}

// okIn runs orga-storage in dir and requires it to succeed with nothing on
// stderr, returning stdout.
func okIn(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	r := runIn(t, dir, env, "", args...)
	require.Equal(t, 0, r.code, "orga-storage %s: %s", strings.Join(args, " "), r.stderr)
	require.Empty(t, r.stderr, "orga-storage %s", strings.Join(args, " "))
	return r.stdout
}

// srcAndDst returns a scratch directory work with two local storages in
// it, src and dst.
func srcAndDst(t *testing.T) (work, srcDir, dstDir string, src, dst *storage.Local) {
	work = t.TempDir()
	srcDir, dstDir = filepath.Join(work, "src"), filepath.Join(work, "dst")
	return work, srcDir, dstDir, openLocal(t, srcDir), openLocal(t, dstDir)
}

func TestSyncDryRunAndDelete(t *testing.T) {
	work, srcDir, dstDir, src, dst := srcAndDst(t)
	tree := syncTree("events/")
	putObjects(t, src, tree, 0)
	putObjects(t, dst, tree[1:4], 1) // older versions
	extra := []treeObject{
		{"events/gone.txt", 10, storage.PutOptions{}},     // under the prefix: --delete removes it
		{"events-old/keep.txt", 10, storage.PutOptions{}}, // beside it, sharing no "/"
		{"other/keep.txt", 10, storage.PutOptions{}},
	}
	putObjects(t, dst, extra, 0)
	before := objects(t, dst, "")

	out := okIn(t, work, cleanEnv(), "sync", "--dry-run", "--delete", "local:"+srcDir, "local:"+dstDir, "events/")
	assert.Regexp(t, fmt.Sprintf(`^dry run, nothing changed: %d to copy \(\S+ \S+\), 0 skipped, 1 to delete, 0 failed, in \S+\n$`, len(tree)), out)
	assert.Equal(t, before, objects(t, dst, ""), "a dry run changes nothing")

	// Without --delete nothing goes.
	out = okIn(t, work, cleanEnv(), "sync", "local:"+srcDir, "local:"+dstDir, "events/")
	assert.Equal(t, [4]string{fmt.Sprint(len(tree)), "0", "0", "0"}, summary(t, out))
	assert.Contains(t, objects(t, dst, ""), "events/gone.txt")

	// Flags after the arguments too.
	out = okIn(t, work, cleanEnv(), "sync", "local:"+srcDir, "local:"+dstDir, "events/", "--delete")
	assert.Equal(t, [4]string{"0", fmt.Sprint(len(tree)), "1", "0"}, summary(t, out))
	got := objects(t, dst, "")
	assert.NotContains(t, got, "events/gone.txt")
	for _, o := range extra[1:] {
		assert.Equal(t, before[o.key], got[o.key], "%s, outside the prefix, is kept", o.key)
	}
	assert.Equal(t, objects(t, src, "events/"), objects(t, dst, "events/"))
}

// TestSyncFailedKeys has one key that DST cannot store, a file in the
// place of its folder: sync copies the rest, names the key and the side on
// stderr, and exits 1.
func TestSyncFailedKeys(t *testing.T) {
	work, srcDir, dstDir, src, dst := srcAndDst(t)
	tree := syncTree("")
	putObjects(t, src, tree, 0)
	putObjects(t, dst, []treeObject{{"exports", 3, storage.PutOptions{}}}, 0)

	r := runIn(t, work, cleanEnv(), "", "sync", "local:"+srcDir, "local:"+dstDir)
	require.Equal(t, 1, r.code, "stdout %q, stderr %q", r.stdout, r.stderr)
	assert.Equal(t, [4]string{fmt.Sprint(len(tree) - 1), "0", "0", "1"}, summary(t, r.stdout))
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	require.Len(t, lines, 2, r.stderr)
	assert.True(t, strings.HasPrefix(lines[0], `orga-storage sync: "exports/日本語/big.bin": put to local:`+dstDir+": "), lines[0])
	assert.Equal(t, "orga-storage sync: 1 object failed", lines[1])
	got := objects(t, dst, "")
	want := objects(t, src, "")
	delete(want, "exports/日本語/big.bin")
	delete(got, "exports")
	assert.Equal(t, want, got, "the other objects are synced")
}

func TestSyncBadArgs(t *testing.T) {
	work := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(work, "media"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(work, "file"), nil, 0o644))
	// No S3 variable set: an s3:// side must say what is missing.
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"local:media"}, 2, "orga-storage sync: want SRC, DST and an optional PREFIX, got 1 argument (see orga-storage sync --help)"},
		{[]string{"local:media", "local:b", "p/", "q"}, 2, "orga-storage sync: want SRC, DST and an optional PREFIX, got 4 arguments (see orga-storage sync --help)"},
		{[]string{"ftp://host/media", "local:b"}, 2, `orga-storage sync: SRC "ftp://host/media": unknown scheme "ftp:"; want local:DIR or s3://BUCKET (see orga-storage sync --help)`},
		{[]string{"local:media", "gs://bucket"}, 2, `orga-storage sync: DST "gs://bucket": unknown scheme "gs:"; want local:DIR or s3://BUCKET (see orga-storage sync --help)`},
		{[]string{"media", "local:b"}, 2, `orga-storage sync: SRC "media" is neither local:DIR nor s3://BUCKET (for a directory, say local:media) (see orga-storage sync --help)`},
		{[]string{"local:", "local:b"}, 2, `orga-storage sync: SRC "local:" names no directory; want local:DIR or s3://BUCKET (see orga-storage sync --help)`},
		{[]string{"local:media", "s3://"}, 2, `orga-storage sync: DST "s3://" names no bucket; want local:DIR or s3://BUCKET (see orga-storage sync --help)`},
		{[]string{"local:media", "s3://media/events"}, 2, `orga-storage sync: DST "s3://media/events" has a path after the bucket; keys are the same on both sides, so give the prefix as PREFIX, the third argument (see orga-storage sync --help)`},
		{[]string{"local:media", "local:./media"}, 2, `orga-storage sync: SRC and DST are both local:media (see orga-storage sync --help)`},
		{[]string{"--concurrency", "-1", "local:media", "local:b"}, 2, `orga-storage sync: --concurrency must be 0 (the default) or more, not -1 (see orga-storage sync --help)`},
		{[]string{"--concurrency", "many", "local:media", "local:b"}, 2, `orga-storage sync: invalid value "many" for flag -concurrency: parse error (see orga-storage sync --help)`},
		{[]string{"--force", "local:media", "local:b"}, 2, `orga-storage sync: unknown flag --force (see orga-storage sync --help)`},
		{[]string{"local:media", "local:b", "a//b"}, 2, `orga-storage sync: prefix "a//b": invalid key: prefix has an empty segment (//)`},
		{[]string{"local:missing", "local:b"}, 1, `orga-storage sync: SRC local:missing: no directory ` + filepath.Join(work, "missing")},
		{[]string{"local:file", "local:b"}, 1, `orga-storage sync: SRC local:file: ` + filepath.Join(work, "file") + ` is not a directory`},
		{[]string{"local:media", "s3://media-archive"}, 1, `orga-storage sync: S3 bucket "media-archive" needs credentials: none of AWS_KEY, AWS_SECRET is set; set AWS_KEY and AWS_SECRET, or STORAGE_S3_CREDENTIALS=default for the AWS default credential chain (instance or task role, web identity)`},
	} {
		r := runIn(t, work, cleanEnv(), "", append([]string{"sync"}, tt.args...)...)
		assert.Equal(t, tt.code, r.code, "%v: stderr %q", tt.args, r.stderr)
		assert.Equal(t, tt.want+"\n", r.stderr, "%v", tt.args)
		assert.Empty(t, r.stdout, "%v", tt.args)
	}
	assert.NoDirExists(t, filepath.Join(work, "b"), "a refused sync creates no DST")
	assert.NoDirExists(t, filepath.Join(work, "missing"), "nor a missing SRC")
}

func TestSyncProgressLine(t *testing.T) {
	p := storage.SyncProgress{Listed: 40, Listing: true, Copied: 10, Skipped: 5, Bytes: 3 << 20}
	assert.Equal(t, "sync  15/40+ objects  3.0 MiB copied", progressLine(p), "no rate before half a second")
	p.Elapsed = 2e9
	assert.Equal(t, "sync  15/40+ objects  3.0 MiB copied  1.5 MiB/s, 8 objects/s", progressLine(p), "no ETA while listing")
	p.Listing, p.Failed, p.Deleted = false, 1, 2
	assert.Equal(t, "sync  16/40 objects  3.0 MiB copied  2 deleted  1 failed  1.5 MiB/s, 8 objects/s  ETA 3s", progressLine(p))

	// The line is drawn on a terminal only, and erased before the summary.
	var stderr bytes.Buffer
	b := &syncBar{line: statusLine{w: &stderr}, draw: true}
	b.update(p)
	b.done()
	assert.Equal(t, "\r\x1b[K"+progressLine(p)+"\r\x1b[K", stderr.String())
	stderr.Reset()
	b = &syncBar{line: statusLine{w: &stderr}}
	b.update(p)
	b.done()
	assert.Empty(t, stderr.String())
}

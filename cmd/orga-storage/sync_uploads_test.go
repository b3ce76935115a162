package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openUploads returns the multipart uploads of keys open in bucket, as
// "key upload-ID", seen with the root credentials. (MinIO matches the prefix
// of ListMultipartUploads against whole keys only: each key is asked for.)
func (m *minio) openUploads(t *testing.T, bucket string, keys []string) []string {
	t.Helper()
	c := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(m.endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(m.rootKey, m.rootSecret, ""),
	})
	var open []string
	for _, key := range keys {
		in := &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)}
		for {
			out, err := c.ListMultipartUploads(context.Background(), in)
			require.NoError(t, err)
			for _, u := range out.Uploads {
				if aws.ToString(u.Key) == key {
					open = append(open, key+" "+aws.ToString(u.UploadId))
				}
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
		}
	}
	return open
}

// largeSync is a bucket holding small old versions of n objects of 20 MiB
// or more that a directory holds, each uploaded in parts.
type largeSync struct {
	m          *minio
	work       string
	src        string // the directory
	env        []string
	s          *storage.S3 // the bucket, with the root credentials
	old        map[string]object
	newVersion map[string]object
}

// keys returns the keys of the objects.
func (l *largeSync) keys() []string {
	return slices.Sorted(maps.Keys(l.newVersion))
}

func newLargeSync(t *testing.T, m *minio, n int) *largeSync {
	t.Helper()
	work := t.TempDir()
	tree, old := killTrees(n, 1)
	for i := range tree {
		tree[i].size, old[i].size = 20<<20+i, 1000+i
	}
	l := &largeSync{m: m, work: work, src: filepath.Join(work, "src"),
		// The user's cache folder, where a sync keeps its journal, as
		// os.UserCacheDir finds it on Unix and on Windows.
		env: m.env(m.endpoint, m.bucket, m.userKey, m.userSecret,
			"XDG_CACHE_HOME="+filepath.Join(work, "cache"), "LocalAppData="+filepath.Join(work, "cache"))}
	putObjects(t, openLocal(t, l.src), tree, 1)
	s, err := storage.NewS3(context.Background(), storage.S3Config{Bucket: m.bucket, Endpoint: m.endpoint,
		AccessKey: m.rootKey, SecretKey: storage.NewSecret(m.rootSecret)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	l.s = s
	putObjects(t, s, old, 0)
	l.old, l.newVersion = objects(t, s, "events/"), objects(t, openLocal(t, l.src), "")
	return l
}

// startUploading starts "orga-storage sync" from the directory to the
// bucket and returns once a multipart upload of it is open, or fails the
// test when it ends first. done receives the exit status.
func (l *largeSync) startUploading(t *testing.T) (cmd *exec.Cmd, done <-chan error) {
	t.Helper()
	cmd = exec.Command(binary, "sync", "--concurrency", "2", "local:"+l.src, "s3://"+l.m.bucket)
	cmd.Dir, cmd.Env = l.work, l.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for len(l.m.openUploads(t, l.m.bucket, l.keys())) == 0 {
		select {
		case err := <-exited:
			t.Fatalf("sync ended (%v, stderr %q) before any multipart upload was seen", err, stderr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "no multipart upload open after 30 s")
		time.Sleep(2 * time.Millisecond)
	}
	return cmd, exited
}

// TestMinIOSyncKilledInUpload kills sync while it uploads objects in
// parts: the kill leaves uploads open, which the rerun aborts, and the
// bucket then holds every new object and no open upload.
func TestMinIOSyncKilledInUpload(t *testing.T) {
	m := setupMinIO(t)
	l := newLargeSync(t, m, 6)
	n := len(l.newVersion)

	var left []string
	for attempt := 0; len(left) == 0; attempt++ {
		require.Less(t, attempt, 5, "no kill left an upload open")
		if attempt > 0 {
			putObjects(t, l.s, oldTree(l.old), 0)
		}
		cmd, done := l.startUploading(t)
		require.NoError(t, cmd.Process.Kill())
		<-done
		left = m.openUploads(t, m.bucket, l.keys())
	}
	t.Logf("the kill left %d upload(s) open: %v", len(left), left)

	copied := oldOrNew(t, objects(t, l.s, "events/"), l.old, l.newVersion, "after the kill")

	out := okIn(t, l.work, l.env, "sync", "local:"+l.src, "s3://"+m.bucket)
	assert.Equal(t, [4]string{fmt.Sprint(n - copied), fmt.Sprint(copied), "0", "0"}, summary(t, out),
		"the rerun copies what is left and skips the rest")
	assert.Equal(t, l.newVersion, objects(t, l.s, "events/"))
	assert.Empty(t, m.openUploads(t, m.bucket, l.keys()), "the rerun aborted the uploads the kill left open")
	assert.Empty(t, journals(t, l.work), "no journal is left behind")
}

// TestMinIOSyncBesideLiveSync runs a second sync to the bucket while the
// first is uploading in parts: the second leaves the first's uploads alone,
// and both succeed.
func TestMinIOSyncBesideLiveSync(t *testing.T) {
	m := setupMinIO(t)
	l := newLargeSync(t, m, 12)
	other := filepath.Join(l.work, "other")
	putObjects(t, openLocal(t, other), syncTree("other/")[:3], 0)

	for attempt := 0; ; attempt++ {
		require.Less(t, attempt, 5, "the first sync always ended before the second")
		if attempt > 0 {
			_, err := storage.DeletePrefix(context.Background(), l.s, "other/")
			require.NoError(t, err)
			putObjects(t, l.s, oldTree(l.old), 0)
		}
		_, done := l.startUploading(t)
		require.NotEmpty(t, journals(t, l.work), "the running sync keeps a journal")
		out := okIn(t, l.work, l.env, "sync", "local:"+other, "s3://"+m.bucket, "other/")
		assert.Equal(t, [4]string{"3", "0", "0", "0"}, summary(t, out))
		select {
		case err := <-done:
			require.NoError(t, err, "the first sync")
			t.Log("the first sync ended before the second: again")
			continue
		default:
		}
		require.NoError(t, <-done, "the first sync, whose uploads the second left alone")
		break
	}
	assert.Equal(t, l.newVersion, objects(t, l.s, "events/"))
	assert.Empty(t, m.openUploads(t, m.bucket, l.keys()))
	assert.Empty(t, journals(t, l.work))
}

// oldTree returns the tree whose objects are old, to put again.
func oldTree(old map[string]object) []treeObject {
	var tree []treeObject
	for key, o := range old {
		tree = append(tree, treeObject{key: key, size: int(o.Size),
			opts: storage.PutOptions{ContentType: o.ContentType, CacheControl: o.CacheControl, Metadata: o.Metadata}})
	}
	return tree
}

// journals returns the upload journals in work's cache directory.
func journals(t *testing.T, work string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(filepath.Join(work, "cache"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			found = append(found, path)
		}
		if os.IsNotExist(err) {
			return nil
		}
		return err
	})
	require.NoError(t, err)
	return found
}

package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadJournal(t *testing.T) {
	at := time.Unix(1700000000, 5)
	f, err := os.CreateTemp(t.TempDir(), "*.journal")
	require.NoError(t, err)
	defer f.Close()
	fmt.Fprintf(f, "i 1 %d %q\nc 1 %q\n", at.UnixNano(), "done.bin", "id-1")
	fmt.Fprintf(f, "i 2 %d %q\nc 2 %q\n", at.UnixNano(), "open/ä b.bin", "id-2")
	fmt.Fprintf(f, "d 1\ni 3 %d %q\n", at.UnixNano(), "no answer.bin")
	fmt.Fprintf(f, "i 4 %d \"cut sh", at.UnixNano()) // the Sync died writing it
	_, err = f.Seek(0, 0)
	require.NoError(t, err)
	open, err := readJournal(f)
	require.NoError(t, err)
	assert.Equal(t, []journalEntry{
		{key: "open/ä b.bin", sent: at, uploadID: "id-2"},
		{key: "no answer.bin", sent: at},
	}, open)
}

// TestS3RecoversDeadSyncUploads writes the journals of a dead Sync and of
// a live one by hand: journalUploads aborts the dead one's open uploads,
// and of the uploads of a key whose ID never came those begun near the
// request only, and leaves the live one's alone.
func TestS3RecoversDeadSyncUploads(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	ctx := context.Background()
	s, err := NewS3(ctx, minioConfig(t))
	require.NoError(t, err)
	defer s.Close()
	c, err := s.api(ctx)
	require.NoError(t, err)
	begin := func(key string) string {
		out, err := c.api.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
		require.NoError(t, err)
		t.Cleanup(func() {
			c.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: out.UploadId})
		})
		return aws.ToString(out.UploadId)
	}
	open := func(key string) []string {
		out, err := c.api.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(key)})
		require.NoError(t, err)
		var ids []string
		for _, u := range out.Uploads {
			ids = append(ids, aws.ToString(u.UploadId))
		}
		return ids
	}
	const (
		dead     = "journal/dead.bin"      // in the dead Sync's journal, with its ID
		noAnswer = "journal/no answer.bin" // in it without: its answer never came
		earlier  = "journal/earlier.bin"   // likewise, but begun long before the request
		live     = "journal/live.bin"      // in the live Sync's journal
	)
	deadID, earlierID, liveID := begin(dead), begin(earlier), begin(live)
	begin(noAnswer)
	now := time.Now()

	dir, err := s.journalDir()
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	write := func(name string, lines ...string) *os.File {
		f, err := os.Create(filepath.Join(dir, name))
		require.NoError(t, err)
		_, err = f.WriteString(strings.Join(lines, "\n") + "\n")
		require.NoError(t, err)
		return f
	}
	intent := func(seq int, at time.Time, key string) string {
		return fmt.Sprintf("i %d %d %s", seq, at.UnixNano(), strconv.Quote(key))
	}
	write("dead"+journalSuffix,
		intent(1, now, dead), "c 1 "+strconv.Quote(deadID),
		intent(2, now, noAnswer),
		intent(3, now.Add(-5*time.Minute), earlier),
	).Close()
	liveFile := write("live"+journalSuffix, intent(1, now, live), "c 1 "+strconv.Quote(liveID))
	defer liveFile.Close()
	require.NoError(t, lockFile(liveFile, true))

	_, end := s.journalUploads(ctx)
	end()
	assert.Empty(t, open(dead), "the dead Sync's upload is aborted")
	assert.Empty(t, open(noAnswer), "the upload whose answer the dead Sync never got is aborted")
	assert.Equal(t, []string{earlierID}, open(earlier), "an upload begun long before the dead Sync's request is not its")
	assert.Equal(t, []string{liveID}, open(live), "the live Sync's upload is left alone")
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "live"+journalSuffix)}, names, "the dead journal is removed, the live one kept, this Sync's own removed at its end")
}

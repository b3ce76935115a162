//go:build unix

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSyncKilled SIGKILLs a child "orga-storage sync" at random points of
// its run over a destination holding older versions: each time DST holds,
// for each key, the old object or the new one whole, content and
// attributes, and a rerun then completes the job.
func TestSyncKilled(t *testing.T) {
	work := t.TempDir()
	srcDir := filepath.Join(work, "src")
	src := openLocal(t, srcDir)
	var tree []treeObject
	for i := range 200 {
		tree = append(tree, treeObject{
			key:  fmt.Sprintf("events/%d/file %d.bin", i%7, i),
			size: rand.IntN(256 << 10),
			opts: storage.PutOptions{ContentType: "application/octet-stream", Metadata: map[string]string{"version": "new"}},
		})
	}
	putObjects(t, src, tree, 1)
	newVersion := objects(t, src, "")

	// The old versions differ in content and in attributes, so that a mix
	// of one's content and the other's attributes shows.
	old := make([]treeObject, len(tree))
	for i, o := range tree {
		o.opts = storage.PutOptions{ContentType: "text/plain", CacheControl: "no-store", Metadata: map[string]string{"version": "old"}}
		old[i] = o
	}
	oldDst := func(name string) string {
		dir := filepath.Join(work, name)
		putObjects(t, openLocal(t, dir), old, 0)
		return dir
	}
	oldVersion := objects(t, openLocal(t, oldDst("old")), "")

	// How long a whole run takes here sets the range of the kills: the
	// shorter of two, on a machine that others share.
	var whole time.Duration
	for i := range 2 {
		start := time.Now()
		okIn(t, work, cleanEnv(), "sync", "--concurrency", "2", "local:"+srcDir, "local:"+oldDst(fmt.Sprint("timing", i)))
		if d := time.Since(start); i == 0 || d < whole {
			whole = d
		}
	}
	t.Logf("a whole sync takes %v", whole)

	var midway int
	for round := range 5 {
		dstDir := oldDst(fmt.Sprintf("dst%d", round))
		cmd := exec.Command(binary, "sync", "--concurrency", "2", "local:"+srcDir, "local:"+dstDir)
		cmd.Env = cleanEnv()
		require.NoError(t, cmd.Start())
		time.Sleep(time.Duration(rand.Int64N(int64(whole))))
		require.NoError(t, cmd.Process.Kill())
		cmd.Wait()

		got := objects(t, openLocal(t, dstDir), "")
		require.Len(t, got, len(tree), "round %d: no key lost, none added", round)
		copied := 0
		for key, o := range got {
			switch {
			case reflect.DeepEqual(o, newVersion[key]):
				copied++
			case reflect.DeepEqual(o, oldVersion[key]):
			default:
				t.Errorf("round %d: %s is neither the old object nor the new one: %+v", round, key, o)
			}
		}
		t.Logf("round %d: killed with %d of %d objects copied", round, copied, len(tree))
		if copied > 0 && copied < len(tree) {
			midway++
		}

		out := okIn(t, work, cleanEnv(), "sync", "local:"+srcDir, "local:"+dstDir)
		assert.Equal(t, [4]string{fmt.Sprint(len(tree) - copied), fmt.Sprint(copied), "0", "0"}, summary(t, out),
			"round %d: the rerun copies what is left and skips the rest", round)
		assert.Equal(t, newVersion, objects(t, openLocal(t, dstDir), ""), "round %d", round)
		// A killed Put leaves its temporary file, which no listing shows
		// and Cleanup removes.
		_, err := openLocal(t, dstDir).Cleanup(context.Background())
		require.NoError(t, err)
	}
	t.Logf("%d of 5 kills came midway", midway)

	// SIGTERM, as Ctrl-C's SIGINT, stops sync cleanly: it says so, sums
	// up what it did, and exits 1.
	delay := whole / 4
	var dstDir string
	for attempt := 0; ; attempt++ {
		dstDir = oldDst(fmt.Sprint("terminated", attempt))
		cmd := exec.Command(binary, "sync", "--concurrency", "2", "local:"+srcDir, "local:"+dstDir)
		cmd.Env = cleanEnv()
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Start())
		time.Sleep(delay)
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		err := cmd.Wait()
		code := 0
		if err != nil {
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit)
			code = exit.ExitCode()
		}
		if code == 0 || code < 0 {
			// Done before the signal, or signalled before Go installed
			// its handler: try again, sooner or later.
			require.Less(t, attempt, 8, "sync ended with %v: stdout %q, stderr %q", err, stdout.String(), stderr.String())
			if code == 0 {
				delay /= 2
			} else {
				delay *= 2
			}
			continue
		}
		assert.Equal(t, 1, code)
		assert.Equal(t, "orga-storage sync: interrupted\n", stderr.String())
		summary(t, stdout.String())
		break
	}
	out := okIn(t, work, cleanEnv(), "sync", "local:"+srcDir, "local:"+dstDir)
	assert.Equal(t, "0", summary(t, out)[3])
	assert.Equal(t, newVersion, objects(t, openLocal(t, dstDir), ""))
}

//go:build unix

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSyncKilled kills sync at random points (see syncKilled), then
// stops it with SIGTERM.
func TestSyncKilled(t *testing.T) {
	work := t.TempDir()
	srcDir, dstDir := filepath.Join(work, "src"), filepath.Join(work, "dst")
	tree, old := killTrees(200, 256<<10)
	putObjects(t, openLocal(t, srcDir), tree, 1)
	reset := func() {
		require.NoError(t, os.RemoveAll(dstDir))
		putObjects(t, openLocal(t, dstDir), old, 0)
	}
	reset()
	k := killedSync{
		env: cleanEnv(), src: "local:" + srcDir, dst: "local:" + dstDir, reset: reset,
		read:       func() map[string]object { return objects(t, openLocal(t, dstDir), "") },
		oldVersion: objects(t, openLocal(t, dstDir), ""), newVersion: objects(t, openLocal(t, srcDir), ""),
	}
	whole := syncKilled(t, work, k, 5)
	// A killed Put leaves its temporary file, which no listing shows and
	// Cleanup removes.
	_, err := openLocal(t, dstDir).Cleanup(context.Background())
	require.NoError(t, err)

	// SIGTERM, as Ctrl-C's SIGINT, stops sync cleanly: it says so, sums
	// up what it did, and exits 1.
	delay := whole / 4
	for attempt := 0; ; attempt++ {
		reset()
		cmd := exec.Command(binary, "sync", "--concurrency", "2", "local:"+srcDir, "local:"+dstDir)
		cmd.Env = k.env
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
	assert.Equal(t, k.newVersion, k.read())
}

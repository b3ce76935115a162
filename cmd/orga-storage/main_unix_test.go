//go:build unix

package main

import (
	"bytes"
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

// TestGetHonorsUmask must not run in parallel: the umask belongs to the
// whole test process, whose children inherit it.
func TestGetHonorsUmask(t *testing.T) {
	env := localEnv(t)
	ok(t, env, "secret\n", "put", "-", "private.txt")
	dir := t.TempDir()
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })

	out := filepath.Join(dir, "new.txt")
	ok(t, env, "", "get", "private.txt", out)
	assert.Equal(t, os.FileMode(0o600), mode(t, out), "a new file gets 0666 less the umask")

	// The umask is for new files: a replaced file keeps what it had, bits
	// the umask would take included.
	shared := filepath.Join(dir, "shared.txt")
	require.NoError(t, os.WriteFile(shared, []byte("old"), 0o600))
	require.NoError(t, os.Chmod(shared, 0o640))
	ok(t, env, "", "get", "private.txt", shared)
	got, err := os.ReadFile(shared)
	require.NoError(t, err)
	assert.Equal(t, "secret\n", string(got))
	assert.Equal(t, os.FileMode(0o640), mode(t, shared))
	noLeftovers(t, dir)
}

func TestGetIntoFIFO(t *testing.T) {
	env := localEnv(t)
	ok(t, env, "through the pipe\n", "put", "-", "a.txt")
	fifo := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	read := make(chan string, 1)
	go func() {
		// Blocks until the download opens the FIFO for writing.
		b, _ := os.ReadFile(fifo)
		read <- string(b)
	}()

	ok(t, env, "", "get", "a.txt", fifo)
	fi, err := os.Lstat(fifo)
	require.NoError(t, err)
	require.Equal(t, os.ModeNamedPipe, fi.Mode().Type(), "the FIFO is still one")
	select {
	case got := <-read:
		assert.Equal(t, "through the pipe\n", got)
	case <-time.After(10 * time.Second):
		t.Fatal("nothing came through the FIFO")
	}
}

// TestGetOfAFIFOInTheDirectory: a named pipe planted in the directory, named
// like an object, is refused at once; opening it would wait for a writer
// for ever, past any signal.
func TestGetOfAFIFOInTheDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "media")
	env := cleanEnv("STORAGE_DIR=" + dir)
	ok(t, env, "x", "put", "-", "a.txt")
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "pipe.png"), 0o644))
	for _, args := range [][]string{{"get", "pipe.png", "-"}, {"stat", "pipe.png"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		timedOut := ctx.Err()
		cancel()
		require.NoError(t, timedOut, "orga-storage %s still running after 10s", strings.Join(args, " "))
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit)
		assert.Equal(t, 1, exit.ExitCode())
		assert.Empty(t, stdout.String())
		assert.Equal(t, "orga-storage "+args[0]+": "+args[0]+` "pipe.png": invalid argument: on local disk it is a named pipe (FIFO), which no Put makes and Local does not use`+"\n", stderr.String())
	}
}

// TestSystemDirRefused: STORAGE_DIR=/ would serve every file of the system
// that looks like an object (/etc/shadow, to a server run as root).
func TestSystemDirRefused(t *testing.T) {
	env := cleanEnv("STORAGE_DIR=/")
	assert.Equal(t, "orga-storage ls: local directory: invalid argument: / is the root of the file system, and Local serves the files below its directory: give it a folder of its own, such as /var/lib/orga/media",
		failsWith(t, 1, env, "ls"))
	r := run(t, env, "", "check")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "FAIL  configuration: local directory: invalid argument: / is the root of the file system")
	assert.Contains(t, r.stdout, "fix: set STORAGE_DIR to a folder that holds the objects only")
}

// TestCheckWarnsOfForeignFiles: files that no Put made, which Local neither
// lists nor serves, are named, without failing the check.
func TestCheckWarnsOfForeignFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "media")
	env := cleanEnv("STORAGE_DIR=" + dir)
	ok(t, env, "x", "put", "-", "a.txt")
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "pipe.png"), 0o644))
	require.NoError(t, os.Symlink("a.txt", filepath.Join(dir, "link.txt")))
	r := run(t, env, "", "check")
	require.Equal(t, 0, r.code, r.stdout)
	assert.Contains(t, r.stdout, "WARN  foreign files: 2 files in "+dir+" that no Put made, which Local neither lists nor serves:\n"+
		"      link.txt: a symbolic link\n"+
		"      pipe.png: a named pipe (FIFO)\n"+
		"      fix: remove them or move them out; to store a file as an object, orga-storage put it\n")
	assert.Contains(t, r.stdout, "All required checks passed.")
}

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestSecondSignalKills checks that a put blocked reading its input, which
// the first SIGTERM cannot stop, ends at the second.
func TestSecondSignalKills(t *testing.T) {
	env := localEnv(t)
	cmd := exec.Command(binary, "put", "-", "k.txt")
	cmd.Env = env
	cmd.Dir = t.TempDir()
	stdin, w, err := os.Pipe()
	require.NoError(t, err)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stdin.Close()
	t.Cleanup(func() {
		w.Close()
		cmd.Process.Kill()
		<-done
	})

	// Once the pipe is empty after more than it holds was written, the
	// command is in Put, handling signals itself (a SIGTERM before that
	// would kill it at once, and prove nothing), and blocked in a read
	// that its cancelled context cannot end: with bytes still in the pipe,
	// the first SIGTERM alone would end it.
	_, err = w.Write(make([]byte, 1<<20))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		n, err := unix.IoctlGetInt(int(w.Fd()), unix.TIOCINQ) // FIONREAD: bytes in the pipe
		return err == nil && n == 0
	}, 10*time.Second, 10*time.Millisecond, "the command reads its input")
	// An empty pipe says the last bytes were read, not that the command is
	// back in read: on a loaded machine it may still be storing them, and
	// would then see the first signal's cancelled context and stop at once.
	// Nothing more comes, so a while later it is blocked in the read.
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	// Time to take the first signal in, lest both arrive as one.
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-done:
		done <- err // for the cleanup
		require.Error(t, err)
		assert.Equal(t, "signal: terminated", err.Error(), "stderr: %s", stderr.String())
	case <-time.After(5 * time.Second):
		t.Fatal("put did not end at the second SIGTERM")
	}
	assert.Empty(t, ok(t, env, "", "ls", "-r"), "nothing stored")
}

// TestGetSyncs checks with strace, where it can trace, that get syncs FILE
// before renaming it into place, and its directory after: nothing else
// tells, short of crashing the machine.
func TestGetSyncs(t *testing.T) {
	strace := needStrace(t)
	env := localEnv(t)
	ok(t, env, "new\n", "put", "-", "a.txt")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	require.NoError(t, os.WriteFile(out, []byte("old"), 0o644))
	trace := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command(strace, "-f", "-o", trace, "-e", "trace=openat,fsync,fdatasync,rename,renameat,renameat2",
		binary, "get", "a.txt", out)
	cmd.Env = env
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", output)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "new\n", string(got))
	b, err := os.ReadFile(trace)
	require.NoError(t, err)
	calls := string(b)

	// opened finds the opening of a file in calls, returning its descriptor
	// and what follows.
	opened := func(file, calls string) (fd, rest string) {
		t.Helper()
		m := regexp.MustCompile(`openat\(AT_FDCWD, "` + file + `", .*\) = (\d+)\n`).FindStringSubmatchIndex(calls)
		require.NotNil(t, m, "opening %s:\n%s", file, calls)
		return calls[m[2]:m[3]], calls[m[1]:]
	}
	fd, calls := opened(regexp.QuoteMeta(dir)+`/\.out\.txt\.\w+\.part`, calls)
	rename := regexp.MustCompile(`rename\w*\(.*\.part", .*"` + regexp.QuoteMeta(out) + `".*\) = 0\n`).FindStringIndex(calls)
	require.NotNil(t, rename, "the rename:\n%s", calls)
	assert.Regexp(t, `f(data)?sync\(`+fd+`\)`, calls[:rename[0]], "the file is synced before the rename")
	fd, calls = opened(regexp.QuoteMeta(dir), calls[rename[1]:])
	assert.Regexp(t, `fsync\(`+fd+`\)`, calls, "the directory is synced after the rename")
}

// needStrace returns the path of a strace that can trace here. In CI
// (CI=true), as root, it installs Debian's strace package when it is
// missing, and fails the test when it cannot trace; elsewhere it skips.
func needStrace(t *testing.T) string {
	t.Helper()
	inCI := os.Getenv("CI") == "true"
	strace, err := exec.LookPath("strace")
	if err != nil && inCI && os.Geteuid() == 0 {
		t.Log("installing Debian's strace package")
		for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "strace"}} {
			if out, err := exec.Command("apt-get", args...).CombinedOutput(); err != nil {
				t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		strace, err = exec.LookPath("strace")
	}
	if err == nil {
		var out []byte
		if out, err = exec.Command(strace, "-o", os.DevNull, "true").CombinedOutput(); err != nil {
			err = fmt.Errorf("strace cannot trace here: %w: %s", err, out)
		}
	}
	if err != nil {
		if inCI {
			t.Fatalf("%v (CI=true: the test must run)", err)
		}
		t.Skipf("%v (apt-get install strace)", err)
	}
	return strace
}

func TestGetToStdoutByName(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd/1"); err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	env := localEnv(t)
	ok(t, env, "object\n", "put", "-", "a.txt")
	dir := t.TempDir()
	// The link /dev/stdout is, made here so that a get that wrongly
	// replaced it would not replace the system's.
	stdout := filepath.Join(dir, "stdout")
	require.NoError(t, os.Symlink("/proc/self/fd/1", stdout))

	// Onto a pipe.
	assert.Equal(t, "object\n", ok(t, env, "", "get", "a.txt", stdout))

	// Onto a log file, appended to as by ">> log".
	log := filepath.Join(dir, "log")
	require.NoError(t, os.WriteFile(log, []byte("before\n"), 0o644))
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	defer f.Close()
	cmd := exec.Command(binary, "get", "a.txt", stdout)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = f, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	got, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Equal(t, "before\nobject\n", string(got))
	dest, err := os.Readlink(stdout)
	require.NoError(t, err)
	assert.Equal(t, "/proc/self/fd/1", dest)
}

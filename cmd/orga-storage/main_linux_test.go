package main

import (
	"bytes"
	"os"
	"os/exec"
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

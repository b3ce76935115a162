package faulttest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// minioProcess is a MinIO server of the test's own, which it may kill and
// restart on the same port and data directory.
type minioProcess struct {
	t       *testing.T
	bin     string
	dir     string
	addr    string
	user    string
	pass    string
	cmd     *exec.Cmd
	exited  chan error // receives cmd.Wait's result
	started int
}

// startMinIO starts a MinIO server on a free loopback port with fresh data
// and credentials, stopped at the end of the test. It uses the binary that
// scripts/minio found or installed (STORAGE_TEST_MINIO).
func startMinIO(t *testing.T) *minioProcess {
	t.Helper()
	needMinIO(t)
	bin := os.Getenv("STORAGE_TEST_MINIO")
	if bin == "" {
		skipOrFail(t, "STORAGE_TEST_MINIO is not set: run scripts/test, or `scripts/minio start` and source .minio/env")
	}
	m := &minioProcess{t: t, bin: bin, dir: t.TempDir(), user: "faults" + randomHex(4), pass: randomHex(20)}
	t.Cleanup(func() {
		if m.cmd != nil {
			// SIGTERM, so that MinIO closes its connections and the
			// client's idle ones end before goleak looks.
			_ = m.cmd.Process.Signal(os.Interrupt)
			<-m.exited
		}
	})
	// The port is free when picked, but another process may take it
	// before MinIO binds it: then MinIO exits, and another port is tried.
	for attempt := 1; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		m.addr = l.Addr().String()
		require.NoError(t, l.Close())
		if m.start() || attempt == 5 {
			break
		}
	}
	if m.cmd == nil {
		t.Fatal("MinIO exited at start on 5 ports in a row (its logs are above)")
	}
	return m
}

func (m *minioProcess) server() server {
	return server{endpoint: "http://" + m.addr, accessKey: m.user, secretKey: m.pass}
}

// start runs MinIO and waits until it answers its liveness probe. It
// reports false when MinIO exits first (its port taken, say), leaving m.cmd
// nil, and fails the test when MinIO is not live after a minute.
func (m *minioProcess) start() bool {
	m.t.Helper()
	m.started++
	logFile, err := os.Create(filepath.Join(m.t.TempDir(), fmt.Sprintf("minio-%d.log", m.started)))
	require.NoError(m.t, err)
	defer logFile.Close()
	cmd := exec.Command(m.bin, "server", "--quiet", "--address", m.addr, filepath.Join(m.dir, "data"))
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+m.user, "MINIO_ROOT_PASSWORD="+m.pass,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CALLHOME_ENABLE=off")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(m.t, cmd.Start())
	m.cmd, m.exited = cmd, make(chan error, 1)
	go func(exited chan<- error) { exited <- cmd.Wait() }(m.exited)

	transport := &http.Transport{DisableKeepAlives: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get("http://" + m.addr + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case err := <-m.exited:
			log, _ := os.ReadFile(logFile.Name())
			m.t.Logf("MinIO exited at start on %s (%v): %s", m.addr, err, log)
			m.cmd = nil
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	log, _ := os.ReadFile(logFile.Name())
	m.t.Fatalf("MinIO did not start on %s: %s", m.addr, log)
	return false
}

// restart starts MinIO again on the same port and data, failing the test
// if it cannot.
func (m *minioProcess) restart() {
	m.t.Helper()
	if !m.start() {
		m.t.Fatalf("MinIO did not restart on %s", m.addr)
	}
}

// kill stops MinIO with SIGKILL, as a crash or an OOM kill would.
func (m *minioProcess) kill() {
	m.t.Helper()
	require.NoError(m.t, m.cmd.Process.Kill())
	<-m.exited
	m.cmd = nil
}

// version is the content a test writes as version v of key.
func version(key string, v int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("%s version %d\n", key, v)), 8<<10)
}

// TestMinIORestart kills MinIO with SIGKILL while Puts are under way and
// restarts it 2 s later on the same port and data: the Puts meanwhile fail,
// later calls succeed, and every key holds a version whole, the last one
// that succeeded or one that was under way when the server died.
func TestMinIORestart(t *testing.T) {
	checkLeaks(t)
	m := startMinIO(t)
	f := newFixture(t, m.server())
	s := f.storage(m.server().endpoint)
	row := record(t, "MinIO killed (SIGKILL) during Puts of 8 keys by 4 goroutines, restarted 2 s later on the same port and data")

	const workers, keysPerWorker = 4, 2
	type keyState struct {
		key       string
		ok, tried int // highest version stored without error; highest attempted
	}
	states := make([][keysPerWorker]keyState, workers)
	for w := range workers {
		for k := range keysPerWorker {
			key := fmt.Sprintf("events/%d/badge-%d.pdf", w, k)
			states[w][k] = keyState{key: key}
			f.put(key, version(key, 0))
		}
	}

	// phase is 0 before the kill, 1 while MinIO is down and 2 once it is
	// back; calls are counted by the phase they started in.
	var phase atomic.Int32
	var ok, failed [3]atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for v := 1; ; v++ {
				select {
				case <-stop:
					return
				default:
				}
				st := &states[w][v%keysPerWorker]
				st.tried = v
				p := phase.Load()
				_, err := s.Put(context.Background(), st.key, bytes.NewReader(version(st.key, v)), nil)
				if err == nil {
					st.ok = v
					ok[p].Add(1)
				} else {
					failed[p].Add(1)
					if p == 2 {
						t.Errorf("Put after the restart: %v", err)
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	phase.Store(1)
	m.kill()
	killed := time.Now()
	time.Sleep(2 * time.Second)
	m.restart()
	restarted := time.Since(killed)
	phase.Store(2)
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()

	// Every key holds one version whole: the last that succeeded, or a
	// later one that was under way when MinIO died.
	lost := 0
	for w := range workers {
		for k := range keysPerWorker {
			st := states[w][k]
			allowed := map[string][]byte{}
			for v := st.ok; v <= st.tried; v++ {
				allowed[fmt.Sprintf("version %d", v)] = version(st.key, v)
			}
			got := f.requireOneOf(st.key, allowed)
			if got != fmt.Sprintf("version %d", st.ok) {
				lost++ // a Put that failed yet landed: allowed, reported
			}
			assert.Zero(t, f.uploadsLeft(st.key, 0))
			r, err := getAll(context.Background(), s, st.key)
			require.NoError(t, err, "Get after the restart")
			assert.Equal(t, sum(allowed[got]), sum(r))
		}
	}
	row.Observe("Puts started before the kill: %d succeeded, %d failed (under way at the kill); started while MinIO was down: %d failed, %d succeeded on a retry after the restart; "+
		"MinIO was back after %s; started after the restart: %d succeeded, %d failed; every key held its last stored version, or one under way at the kill, whole (%d keys an unfinished one)",
		ok[0].Load(), failed[0].Load(), failed[1].Load(), ok[1].Load(), seconds(restarted), ok[2].Load(), failed[2].Load(), lost)
	assert.Positive(t, failed[0].Load()+failed[1].Load(), "calls while MinIO is down must fail")
	assert.Positive(t, ok[2].Load(), "calls after the restart must succeed")
	assert.Zero(t, failed[2].Load(), "calls after the restart must succeed")
}

// signalAfter reads from r and closes reached once n bytes have been read.
type signalAfter struct {
	r       io.Reader
	n       int64
	reached chan struct{}
	once    sync.Once
}

func (s *signalAfter) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n -= int64(n)
	if s.n <= 0 {
		s.once.Do(func() { close(s.reached) })
	}
	return n, err
}

// TestMinIORestartMultipart kills MinIO in the middle of a 40 MiB multipart
// upload and restarts it 1 s later.
func TestMinIORestartMultipart(t *testing.T) {
	checkLeaks(t)
	m := startMinIO(t)
	f := newFixture(t, m.server())
	s := f.storage(m.server().endpoint)
	row := record(t, "MinIO killed (SIGKILL) midway through a 40 MiB multipart Put, restarted 1 s later on the same port and data")
	key := "events/1/recording.mp4"
	old, upd := data(11, 1<<20), data(12, 40<<20)
	f.put(key, old)

	body := &signalAfter{r: bytes.NewReader(upd), n: 20 << 20, reached: make(chan struct{})}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := s.Put(context.Background(), key, body, nil)
		done <- err
	}()
	<-body.reached
	m.kill()
	time.Sleep(time.Second)
	m.restart()
	err := <-done
	took := time.Since(start)

	state := f.requireOneOf(key, map[string][]byte{"old": old, "new": upd})
	open := f.uploadsLeft(key, 0)
	row.Observe("Put %s after %s (%s); the key held the %s content; %s",
		map[bool]string{true: "succeeded", false: "failed"}[err == nil], seconds(took), brief(err), state, uploadsText(open))
	if err != nil {
		assert.Equal(t, "old", state, "a failed Put must not have replaced the object")
	} else {
		assert.Equal(t, "new", state)
	}
	assert.Zero(t, open, "multipart uploads of %q left open", key)
	mustPut(t, s, key, upd)
	assert.Equal(t, "new", f.requireOneOf(key, map[string][]byte{"new": upd}), "a Put after the restart succeeds")
}

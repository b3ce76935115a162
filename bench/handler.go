package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"

	"github.com/orga-server/storage"
)

// The serving contenders: *Local's Handler, mounted as orga-storage serve
// mounts it, and net/http's file server on the same directory.
const (
	serveOurs = "storage.Local Handler"
	serveFS   = "http.FileServer"
)

var serveContenders = []string{serveOurs, serveFS}

// serveConc is the number of requests in flight: a loaded server's, each on
// a keep-alive connection of its own.
const serveConc = 16

// serveSizes are the object sizes served: a thumbnail and a photo.
var serveSizes = []int64{4 << 10, 1 << 20}

// serveObjects is how many distinct objects of each size are served, in
// turn, so that no single file's cache line or inode carries the figure.
func serveObjects(size int64) int {
	if size >= 1<<20 {
		return 16
	}
	return 64
}

// servers holds the two servers of one directory and their clients.
type servers struct {
	urls    map[string]string // contender → base URL, ending in /static/media/
	clients map[string]*http.Client
	close   func()
}

// startServers stores the objects of every size in a Local under dir and
// starts both servers on loopback, each with a client of its own whose
// transport keeps a connection per request in flight.
func startServers(b *bench, dir string) (*servers, error) {
	l, err := storage.NewLocal(dir, nil)
	if err != nil {
		return nil, err
	}
	for _, size := range serveSizes {
		body := prngBytes(uint64(size), int(size))
		for i := range serveObjects(size) {
			if _, err := l.Put(b.ctx, serveKey(size, i), bytes.NewReader(body), nil); err != nil {
				l.Close()
				return nil, err
			}
		}
	}
	mount, h := storage.Handler(l) // "/static/media/", as orga-storage serve mounts it
	ours := http.NewServeMux()
	ours.Handle(mount, h)
	theirs := http.NewServeMux()
	theirs.Handle(mount, http.StripPrefix(mount, http.FileServer(http.Dir(dir))))
	s := &servers{urls: map[string]string{}, clients: map[string]*http.Client{}}
	var started []*httptest.Server
	for name, mux := range map[string]http.Handler{serveOurs: ours, serveFS: theirs} {
		srv := httptest.NewServer(mux) // 127.0.0.1, a free port
		started = append(started, srv)
		s.urls[name] = srv.URL + mount
		s.clients[name] = &http.Client{Transport: &http.Transport{
			MaxIdleConns: 4 * serveConc, MaxIdleConnsPerHost: 4 * serveConc, DisableCompression: true,
		}}
	}
	s.close = func() {
		for _, c := range s.clients {
			c.CloseIdleConnections()
		}
		for _, srv := range started {
			srv.Close()
		}
		l.Close()
	}
	// Both serve the same bytes: what each answers for every object.
	for _, size := range serveSizes {
		for i := range serveObjects(size) {
			var sums [][32]byte
			for _, n := range serveContenders {
				var got bytes.Buffer
				if _, err := s.get(n, serveKey(size, i), size, &got); err != nil {
					s.close()
					return nil, err
				}
				sums = append(sums, sha256.Sum256(got.Bytes()))
			}
			if sums[0] != sums[1] {
				s.close()
				return nil, fmt.Errorf("%s: %s and %s serve different bytes", serveKey(size, i), serveOurs, serveFS)
			}
		}
	}
	return s, nil
}

// serveKey names object i of size: a photo's name, whose type both servers
// take from the extension (the Handler from the attribute Put stored), so
// that neither sniffs the bytes.
func serveKey(size int64, i int) string {
	return fmt.Sprintf("serve/%s/p%02d.jpg", strings.ReplaceAll(serveLabel(size), " ", ""), i)
}

// serveLabel is sizeLabel for the serving sizes, KiB included.
func serveLabel(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return sizeLabel(n)
}

// get GETs key from contender n, reads the whole body into w (through the
// shared buffer when w is nil) and checks that it is size bytes.
func (s *servers) get(n, key string, size int64, w io.Writer) (int64, error) {
	resp, err := s.clients[n].Get(s.urls[n] + key)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var got int64
	if w == nil {
		got, err = drain(resp.Body)
	} else {
		got, err = io.Copy(w, resp.Body)
	}
	switch {
	case err != nil:
		return got, err
	case resp.StatusCode != http.StatusOK:
		return got, fmt.Errorf("GET %s: %s", key, resp.Status)
	case got != size:
		return got, fmt.Errorf("GET %s: %d bytes, want %d", key, got, size)
	}
	return got, nil
}

// serve measures GETs of 4 KiB and 1 MiB objects through both servers, at
// serveConc requests in flight, and the process's CPU time per request
// (client and server: the client's work is the same for both).
func (b *bench) serve() error {
	dir := filepath.Join(b.env.Dir, "serve")
	s, err := startServers(b, dir)
	if err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	defer s.close()
	for _, size := range serveSizes {
		label := serveLabel(size)
		n := serveObjects(size)
		f := newFigure(fmt.Sprintf("%s GET over loopback HTTP, %d requests in flight", label, serveConc), "http", "requests/s", false, serveContenders)
		cpu := newFigure(fmt.Sprintf("%s GET over loopback HTTP: CPU time per request", label), "http", "µs", true, serveContenders)
		cpu.Note = serveCPUNote
		// Every connection opened before the first measured round.
		for _, name := range serveContenders {
			if err := parallel(4*n, serveConc, func(i int) error {
				_, err := s.get(name, serveKey(size, i%n), size, nil)
				return err
			}); err != nil {
				return fmt.Errorf("%s, %s: %w", f.Title, name, err)
			}
		}
		err := b.measure(f, b.opts.SmallRounds, func(name string, _ int) (float64, error) {
			t, err := timed(serveConc, b.opts.OpTime, func(i int) error {
				_, err := s.get(name, serveKey(size, i%n), size, nil)
				return err
			})
			if err == nil && t.ops > 0 {
				cpu.Vals[name] = append(cpu.Vals[name], float64(t.cpu.Microseconds())/float64(t.ops))
			}
			return t.perSecond(), err
		})
		if err != nil {
			return err
		}
		for _, name := range serveContenders {
			log.Printf("  %-40s %s", name, summary(cpu.Vals[name], cpu.Unit))
		}
		b.figures = append(b.figures, cpu)
	}
	return nil
}

const serveCPUNote = "The benchmark process's user and system CPU time over each round divided by the requests it " +
	"served: the server, the client (the same for both: one http.Transport each, keep-alive connections) and " +
	"the kernel's loopback work for both ends. The difference between the two rows is the servers' own work."

const serveDoc = "Both servers run in the benchmark process on 127.0.0.1 (`httptest.NewServer`), on the same " +
	"directory, stored by *Local in the mode its probe picks (extended attributes here): *Local's Handler mounted " +
	"at `/static/media/` as `orga-storage serve` mounts it, and `http.StripPrefix` of `http.FileServer(http.Dir(dir))` " +
	"at the same path. Both serve the same bytes (checked, object by object, before measuring) as `image/jpeg`, " +
	"from the extension, so that neither sniffs. A load generator in the same process keeps " +
	"16 GETs in flight, each goroutine on a keep-alive connection of one shared " +
	"`http.Transport` per server, and reads every body to the end; requests go round 64 objects of 4 KiB or 16 of " +
	"1 MiB. http.FileServer checks no attributes and keeps no promise about them: it serves any file under the " +
	"directory, hard links and files no Put made included, with a type guessed from the name, no ETag, " +
	"no private objects, no signatures and no protection against active content.\n\n"

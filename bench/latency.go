package main

import (
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"time"
)

// latencyProxy forwards TCP connections to an upstream address, delivering
// every chunk of bytes a fixed delay after it arrived, in each direction.
// It adds round-trip time without limiting bandwidth: chunks in flight are
// queued, not waited for one by one. On loopback MinIO answers a request in
// a few milliseconds; through this proxy the client sees what it would see
// from a distant server, such as S3 in another building.
type latencyProxy struct {
	ln       net.Listener
	upstream string
	oneWay   time.Duration
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

// startLatencyProxy listens on a free loopback port; roundTrip is split
// evenly between the two directions.
func startLatencyProxy(upstream string, roundTrip time.Duration) (*latencyProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &latencyProxy{ln: ln, upstream: upstream, oneWay: roundTrip / 2}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the host:port to send requests to.
func (p *latencyProxy) Addr() string { return p.ln.Addr().String() }

// Close stops accepting and closes every open connection.
func (p *latencyProxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *latencyProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *latencyProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.upstream)
		if err != nil {
			client.Close()
			continue
		}
		p.track(client)
		p.track(server)
		p.wg.Go(func() { p.pipe(server, client) })
		p.wg.Go(func() { p.pipe(client, server) })
	}
}

type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies src to dst, each chunk oneWay after it was read. When either
// side ends, both connections are closed, as a real network path would
// carry the close along.
func (p *latencyProxy) pipe(dst, src net.Conn) {
	queue := make(chan chunk, 1024)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer dst.Close()
		for c := range queue {
			time.Sleep(time.Until(c.due))
			if _, err := dst.Write(c.data); err != nil {
				for range queue { // let the reader finish
				}
				return
			}
		}
	})
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			queue <- chunk{slices.Clone(buf[:n]), time.Now().Add(p.oneWay)}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				src.Close()
			}
			break
		}
	}
	close(queue)
	wg.Wait()
	src.Close()
}

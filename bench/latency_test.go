package main

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

func TestLatencyProxyDelaysAndKeepsBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // echo server
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	const rtt = 40 * time.Millisecond
	p, err := startLatencyProxy(ln.Addr().String(), rtt)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	want := prngBytes(3, 1<<20) // more than one chunk each way
	start := time.Now()
	go c.Write(want)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < rtt {
		t.Errorf("echo of 1 MiB took %v, want at least the round trip %v", took, rtt)
	}
	if !bytes.Equal(got, want) {
		t.Error("bytes came back changed")
	}

	// A small exchange, once the connection is warm, takes one round trip.
	start = time.Now()
	c.Write([]byte("ping"))
	if _, err := io.ReadFull(c, got[:4]); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < rtt || string(got[:4]) != "ping" {
		t.Errorf("ping: %q after %v, want \"ping\" after at least %v", got[:4], took, rtt)
	}
}

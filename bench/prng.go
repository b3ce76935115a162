package main

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
)

// prngReader yields n deterministic pseudo-random bytes. The benchmark moves
// GiBs, so the data is generated on the fly instead of held in memory, and it
// is random so that no layer can compress or deduplicate it. It has no Len,
// Seek or WriteTo method: every contender sees an opaque stream.
type prngReader struct {
	src  *rand.PCG
	left int64
	tail [8]byte // bytes of the last word not yet handed out
	nt   int
}

func newPRNG(seed uint64, n int64) *prngReader {
	return &prngReader{src: rand.NewPCG(seed, 0x9e3779b97f4a7c15), left: n}
}

func (r *prngReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for r.nt > 0 && n < len(p) { // finish the word a short read split
		p[n] = r.tail[8-r.nt]
		r.nt--
		n++
	}
	for ; n+8 <= len(p); n += 8 {
		binary.LittleEndian.PutUint64(p[n:], r.src.Uint64())
	}
	if n < len(p) {
		binary.LittleEndian.PutUint64(r.tail[:], r.src.Uint64())
		r.nt = 8
		for n < len(p) {
			p[n] = r.tail[8-r.nt]
			r.nt--
			n++
		}
	}
	r.left -= int64(n)
	return n, nil
}

// prngBytes returns n bytes of the same stream, for small objects, which
// callers hold in memory anyway.
func prngBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	io.ReadFull(newPRNG(seed, int64(n)), b)
	return b
}

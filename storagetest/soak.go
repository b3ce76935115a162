package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/orga-server/storage"
)

// SoakResult counts what Soak did.
type SoakResult struct {
	Ops         int64            // operations run
	ByOp        map[string]int64 // operations run, by kind
	Divergences int64            // results that differed from the model
}

// Soak runs ops random operations (Put, Get, GetRange, Stat, Delete, List,
// Copy, DeletePrefix) from 16 goroutines against s, which must start empty,
// and checks every result against an in-memory model. Keys fall into
// folders; a goroutine locks a folder for each operation, so the model of
// each folder is exact while operations on different folders race. Every
// divergence is reported with t.Errorf.
func Soak(t *testing.T, s storage.Storage, ops int, seed uint64) SoakResult {
	const workers, folders, keysPerFolder = 16, 24, 12
	m := &model{folders: make([]modelFolder, folders)}
	for i := range m.folders {
		m.folders[i].objects = map[string]modelObject{}
	}
	var next, divergences atomic.Int64
	var byOp sync.Map
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for next.Add(1) <= int64(ops) {
				f := rng.IntN(folders)
				folder := &m.folders[f]
				folder.mu.Lock()
				op, err := step(s, rng, fmt.Sprintf("soak/%02d/", f), keysPerFolder, folder)
				folder.mu.Unlock()
				n, _ := byOp.LoadOrStore(op, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
				if err != nil {
					divergences.Add(1)
					t.Errorf("%s: %v", op, err)
				}
			}
		}()
	}
	wg.Wait()
	res := SoakResult{Ops: int64(ops), ByOp: map[string]int64{}, Divergences: divergences.Load()}
	byOp.Range(func(k, v any) bool {
		res.ByOp[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return res
}

type model struct{ folders []modelFolder }

type modelFolder struct {
	mu      sync.Mutex
	objects map[string]modelObject
}

type modelObject struct {
	data        []byte
	contentType string
	meta        string
}

// step runs one random operation on one folder and checks it.
func step(s storage.Storage, rng *rand.Rand, prefix string, keysPerFolder int, f *modelFolder) (string, error) {
	ctx := context.Background()
	key := fmt.Sprintf("%sk%02d.bin", prefix, rng.IntN(keysPerFolder))
	want, exists := f.objects[key]
	missing := func(err error) error {
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: want fs.ErrNotExist, got %v", key, err)
		}
		return nil
	}
	switch p := rng.IntN(100); {
	case p < 30:
		size := rng.IntN(8 << 10)
		if rng.IntN(20) == 0 {
			size = 64<<10 + rng.IntN(64<<10)
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		meta := fmt.Sprint(rng.Uint32())
		info, err := s.Put(ctx, key, bytes.NewReader(data), &storage.PutOptions{
			ContentType: "application/x-soak", Metadata: map[string]string{"gen": meta},
		})
		if err != nil {
			return "put", err
		}
		f.objects[key] = modelObject{data: data, contentType: "application/x-soak", meta: meta}
		if info.Size != int64(size) {
			return "put", fmt.Errorf("%s: size %d, want %d", key, info.Size, size)
		}
		return "put", nil
	case p < 50:
		r, err := s.Get(ctx, key)
		if !exists {
			return "get", missing(err)
		}
		if err != nil {
			return "get", err
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return "get", err
		}
		if sha256.Sum256(data) != sha256.Sum256(want.data) {
			return "get", fmt.Errorf("%s: %d bytes differ from the %d put", key, len(data), len(want.data))
		}
		return "get", nil
	case p < 60:
		off, n := int64(rng.IntN(10<<10)), int64(rng.IntN(4<<10))-1
		r, err := s.GetRange(ctx, key, off, n)
		if !exists {
			return "get range", missing(err)
		}
		if err != nil {
			return "get range", err
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return "get range", err
		}
		size := int64(len(want.data))
		lo, hi := min(off, size), size
		if n >= 0 {
			hi = max(lo, min(size, off+n))
		}
		expect := want.data[lo:hi]
		if !bytes.Equal(data, expect) {
			return "get range", fmt.Errorf("%s [%d,+%d): got %d bytes, want %d", key, off, n, len(data), len(expect))
		}
		return "get range", nil
	case p < 70:
		info, err := s.Stat(ctx, key)
		if !exists {
			return "stat", missing(err)
		}
		if err != nil {
			return "stat", err
		}
		if info.Size != int64(len(want.data)) || info.ContentType != want.contentType || info.Metadata["gen"] != want.meta {
			return "stat", fmt.Errorf("%s: %+v differs from the model", key, info)
		}
		return "stat", nil
	case p < 80:
		if err := s.Delete(ctx, key); err != nil {
			return "delete", err
		}
		delete(f.objects, key)
		return "delete", nil
	case p < 88:
		var got []string
		for info, err := range s.List(ctx, prefix, nil) {
			if err != nil {
				return "list", err
			}
			got = append(got, info.Key)
		}
		expect := make([]string, 0, len(f.objects))
		for k := range f.objects {
			expect = append(expect, k)
		}
		slices.Sort(expect)
		if !slices.Equal(got, expect) {
			return "list", fmt.Errorf("%s: listed %v, want %v", prefix, got, expect)
		}
		return "list", nil
	case p < 97:
		dst := fmt.Sprintf("%sk%02d.bin", prefix, rng.IntN(keysPerFolder))
		_, err := s.Copy(ctx, dst, key)
		if !exists {
			return "copy", missing(err)
		}
		if err != nil {
			return "copy", err
		}
		f.objects[dst] = want
		return "copy", nil
	default:
		n, err := storage.DeletePrefix(ctx, s, prefix)
		if err != nil {
			return "delete prefix", err
		}
		if n != len(f.objects) {
			return "delete prefix", fmt.Errorf("%s: deleted %d, want %d", prefix, n, len(f.objects))
		}
		clear(f.objects)
		return "delete prefix", nil
	}
}

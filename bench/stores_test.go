package main

import (
	"context"
	"fmt"
	"testing"
)

// These benchmarks run one contender's small-object operation in a loop, so
// that `go test -bench -cpuprofile` can show where one library spends its
// time; the comparison itself is the main program's. The S3 ones need the
// environment of scripts/minio.

func testEnv(b *testing.B) env {
	e := envFromOS()
	e.Dir = b.TempDir()
	return e
}

func BenchmarkSmall(b *testing.B) {
	payload := prngBytes(1, 4096)
	for _, name := range append(append([]string{}, localContenders...), s3Contenders...) {
		b.Run(name, func(b *testing.B) {
			e := testEnv(b)
			if e.Endpoint == "" && !contains(localContenders, name) {
				b.Skip("no MinIO: source the env file of scripts/minio start")
			}
			ctx := context.Background()
			s, err := openStore(ctx, name, e)
			if err != nil {
				b.Fatal(err)
			}
			key := fmt.Sprintf("bench-test/%s/d/k.bin", slug(name))
			if err := s.Put(ctx, key, small(payload), 4096); err != nil { // for get and stat run alone
				b.Fatal(err)
			}
			benchOps(b, s, key, payload)
			s.Delete(ctx, key)
		})
	}
}

// benchOps runs put, get and stat of one 4 KiB object in loops.
func benchOps(b *testing.B, s store, key string, payload []byte) {
	ctx := context.Background()
	b.Run("put", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Put(ctx, key, small(payload), int64(len(payload))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Get(ctx, key, int64(len(payload))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Stat(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkLocalList(b *testing.B) {
	for _, name := range localContenders {
		b.Run(name, func(b *testing.B) {
			e := testEnv(b)
			s, err := openStore(context.Background(), name, e)
			if err != nil {
				b.Fatal(err)
			}
			bb := &bench{ctx: context.Background()}
			if err := bb.populate(s, "list", 1000); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if n, err := s.List(context.Background(), "list/"); err != nil || n != 1000 {
					b.Fatal(n, err)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

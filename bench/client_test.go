package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// cannedS3 answers every request at once with the same 4 KiB object, so
// that a benchmark against it measures the client's own work per request,
// with none of MinIO's time or noise.
func cannedS3(b *testing.B) env {
	body := prngBytes(2, 4096)
	sum := md5.Sum(body)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set("ETag", etag)
		h.Set("Last-Modified", "Sat, 28 Nov 2026 12:00:00 GMT")
		h.Set("X-Amz-Request-Id", "1873A2B3C4D5E6F7")
		if r.Method == http.MethodHead || r.Method == http.MethodGet {
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Length", strconv.Itoa(len(body)))
		}
		if r.Method == http.MethodGet {
			w.Write(body)
		}
	}))
	b.Cleanup(srv.Close)
	return env{Endpoint: srv.URL, Bucket: "bench", AccessKey: "AKIAEXAMPLE", SecretKey: "not-a-secret", Dir: b.TempDir()}
}

// BenchmarkClientWork runs each S3 contender's small operations against
// cannedS3: the time and allocations per operation are the client's (plus
// the in-process server's, the same for all).
func BenchmarkClientWork(b *testing.B) {
	payload := prngBytes(1, 4096)
	for _, name := range s3Contenders {
		b.Run(name, func(b *testing.B) {
			s, err := openStore(context.Background(), name, cannedS3(b))
			if err != nil {
				b.Fatal(err)
			}
			benchOps(b, s, fmt.Sprintf("bench-test/%s/d/k.bin", slug(name)), payload)
		})
	}
}

// BenchmarkSignedHead sends the HEAD that a Stat sends, signed with the
// SDK's own SigV4 signer but built and sent with plain net/http: the floor
// under every SDK-based contender's stat, against cannedS3 and, with the
// environment of scripts/minio, against MinIO. Compare it with the stat
// loops of BenchmarkClientWork and BenchmarkSmall.
func BenchmarkSignedHead(b *testing.B) {
	servers := map[string]env{"canned": cannedS3(b)}
	if e := testEnv(b); e.Endpoint != "" {
		servers["minio"] = e
	}
	for _, server := range []string{"canned", "minio"} {
		e, ok := servers[server]
		if !ok {
			continue
		}
		b.Run(server, func(b *testing.B) {
			ctx := context.Background()
			key := "bench-test/signed-head/k.bin"
			if server == "minio" {
				s, err := openStore(ctx, rawS3, e)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Put(ctx, key, small(prngBytes(1, 4096)), 4096); err != nil {
					b.Fatal(err)
				}
				defer s.Delete(ctx, key)
			}
			creds, err := e.awsConfig().Credentials.Retrieve(ctx)
			if err != nil {
				b.Fatal(err)
			}
			signer := v4.NewSigner()
			client := &http.Client{}
			const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
			b.ReportAllocs()
			for b.Loop() {
				req, err := http.NewRequestWithContext(ctx, http.MethodHead, e.Endpoint+"/"+e.Bucket+"/"+key, nil)
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
				if err := signer.SignHTTP(ctx, creds, req, emptySHA256, "s3", "us-east-1", time.Now()); err != nil {
					b.Fatal(err)
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatal(resp.Status)
				}
			}
		})
	}
}

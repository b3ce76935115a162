package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServe runs the serving workload briefly, as bench/run -only handler
// does, and checks what the report then shows.
func TestServe(t *testing.T) {
	b := &bench{ctx: context.Background(), opts: options{SmallRounds: 2, OpTime: 50 * time.Millisecond}, env: env{Dir: t.TempDir()}}
	require.NoError(t, b.serve())
	require.Len(t, b.figures, 4, "requests/s and CPU time per request, for 4 KiB and 1 MiB")
	for _, f := range b.figures {
		assert.Equal(t, serveOurs, f.Ours, f.Title)
		for _, n := range serveContenders {
			require.Len(t, f.Vals[n], 2, "%s: %s, one value per round", f.Title, n)
			for _, v := range f.Vals[n] {
				assert.Positive(t, v, "%s: %s", f.Title, n)
			}
		}
	}
	var md bytes.Buffer
	b.report(&md, reportInfo{})
	got := md.String()
	assert.Contains(t, got, "## Serving over HTTP: *Local's Handler and http.FileServer")
	assert.Contains(t, got, "### 4 KiB GET over loopback HTTP, 16 requests in flight (http)")
	assert.Contains(t, got, "### 1 MiB GET over loopback HTTP: CPU time per request (http)")
	assert.Contains(t, got, "*Local's Handler within 10% of http.FileServer")
}

// TestMerged: a run of one workload replaces that workload's tables in the
// saved results, keeps the others and says where the new ones come from.
func TestMerged(t *testing.T) {
	fig := func(kind, title string, v float64) *figure {
		f := newFigure(title, kind, "ops/s", false, []string{libLocal, plainOS})
		f.Vals[libLocal], f.Vals[plainOS] = []float64{v}, []float64{v}
		return f
	}
	file := filepath.Join(t.TempDir(), "results.json")
	old := results{Info: reportInfo{Command: "bench/run", Date: "then"},
		Figures: []*figure{fig("local", "4 KiB get, concurrency 1", 1), fig("http", "4 KiB GET", 2)}}
	raw, err := json.Marshal(old)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, raw, 0o644))

	now := results{Info: reportInfo{Command: "bench/run -only handler -merge", Date: "now", Took: "1m",
		Versions: [][2]string{{"github.com/orga-server/storage", "commit abc1234"}}},
		Figures: []*figure{fig("http", "4 KiB GET", 3), fig("http", "1 MiB GET", 4)}}
	got, err := merged(file, now)
	require.NoError(t, err)
	assert.Equal(t, "then", got.Info.Date, "the report stays the full run's")
	require.Len(t, got.Figures, 3)
	assert.Equal(t, []float64{1}, got.Figures[0].Vals[libLocal], "the local table is kept")
	assert.Equal(t, []float64{3}, got.Figures[1].Vals[libLocal], "the serving table is replaced")
	assert.Equal(t, "1 MiB GET", got.Figures[2].Title, "a new table is added")
	assert.True(t, strings.HasPrefix(got.Figures[1].Note, "The tables of this section come from a later run"), got.Figures[1].Note)
	assert.Contains(t, got.Figures[1].Note, "`bench/run -only handler -merge` on now (it took 1m, commit abc1234")
	assert.Empty(t, got.Figures[2].Note, "one note per section")

	_, err = merged(filepath.Join(t.TempDir(), "none.json"), now)
	assert.Error(t, err)
}

// BenchmarkServe GETs one size of object from one server in a loop, for
// `go test -bench Serve -cpuprofile`: where each server spends its time.
func BenchmarkServe(b *testing.B) {
	bb := &bench{ctx: context.Background(), env: env{Dir: b.TempDir()}}
	s, err := startServers(bb, filepath.Join(bb.env.Dir, "serve"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	for _, size := range serveSizes {
		for _, n := range serveContenders {
			b.Run(serveLabel(size)+"/"+n, func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(serveConc) // × GOMAXPROCS goroutines
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						if _, err := s.get(n, serveKey(size, i%serveObjects(size)), size, nil); err != nil {
							b.Error(err)
							return
						}
						i++
					}
				})
			})
		}
	}
}

func TestServeTarget(t *testing.T) {
	fig := func(title, unit string, ours, theirs float64) *figure {
		f := newFigure(title, "http", unit, unit == "µs", serveContenders)
		f.Vals[serveOurs], f.Vals[serveFS] = []float64{ours}, []float64{theirs}
		return f
	}
	b := &bench{figures: []*figure{fig("4 KiB GET", "requests/s", 950, 1000), fig("4 KiB GET: CPU time per request", "µs", 110, 100)}}
	got := b.serveTarget()
	assert.True(t, strings.HasPrefix(got, "**Met**: "), got)
	assert.Contains(t, got, "4 KiB GET: 110 against 100 µs")
	assert.NotContains(t, got, "Why")

	b.figures = append(b.figures, fig("1 MiB GET", "requests/s", 800, 1000))
	got = b.serveTarget()
	assert.True(t, strings.HasPrefix(got, "**Missed**: "), got)
	assert.Contains(t, got, "1 MiB GET: 0.80×")
	assert.Contains(t, got, "fgetxattr")
	assert.Empty(t, (&bench{}).serveTarget(), "nothing served, no target line")
}

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMeasured checks the -measure child's figures on commands whose time
// and memory are known.
func TestMeasured(t *testing.T) {
	elapsed, maxKiB, err := measured([]string{"sleep", "0.2"})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, elapsed, 200*time.Millisecond)
	assert.Positive(t, maxKiB)

	// sort holds its input: 64 MiB of it shows in its peak.
	_, big, err := measured([]string{"sh", "-c", "head -c 67108864 /dev/zero | tr '\\0' 'x' | fold -w 1024 | sort -S 200M > /dev/null"})
	require.NoError(t, err)
	assert.Greater(t, big, int64(48<<10), "peak of the command, in KiB")

	_, _, err = measured([]string{"false"})
	assert.Error(t, err)
	_, _, err = measured(nil)
	assert.Error(t, err)
}

func TestSyncTarget(t *testing.T) {
	names := syncContenders
	fig := func(what string, vals ...float64) *figure {
		f := newFigure("Sync of 10 objects: "+what, "sync", "objects/s", false, names)
		f.Ours = syncOurs
		for i, n := range names {
			f.Vals[n] = []float64{vals[i]}
		}
		return f
	}
	b := &bench{figures: []*figure{fig("local → S3, first run", 300, 200, 100), fig("local → S3, rerun", 1500, 1400, 400)}}
	got := b.syncTarget()
	assert.True(t, strings.HasPrefix(got, "**Met**: "), got)
	assert.NotContains(t, got, "Why")

	b.figures = append(b.figures, fig("S3 → local, first run", 400, 800, 100))
	got = b.syncTarget()
	assert.True(t, strings.HasPrefix(got, "**Missed**: "), got)
	assert.Contains(t, got, "S3 → local, first run: 0.50× rclone copy")
	assert.Contains(t, got, "fsync")
	assert.NotContains(t, got, "A rerun compares")

	assert.Empty(t, (&bench{}).syncTarget(), "no sync measured, no target line")
}

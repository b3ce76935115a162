package storage

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSettleSyncsAboveAFolderRemovedMeanwhile: when another call has removed
// the folder a deletion left empty (a failed Put's clean-up does not sync),
// settle syncs the nearest folder that is still there.
func TestSettleSyncsAboveAFolderRemovedMeanwhile(t *testing.T) {
	if !foldersSync {
		t.Skip("Windows cannot sync a folder: Local syncs none there")
	}
	l, err := NewLocal(t.TempDir(), nil)
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, os.MkdirAll(filepath.Join(l.Dir(), "a", "b"), 0o755))
	require.NoError(t, os.Remove(filepath.Join(l.Dir(), "a", "b"))) // removed by "another call"
	var synced []string
	l.synced = func(dir string) { synced = append(synced, dir) }
	require.NoError(t, l.settle("a/b")) // an object of a/b was deleted
	assert.Equal(t, []string{"a"}, synced)
}

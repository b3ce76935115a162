package storage_test

import (
	"testing"

	"github.com/orga-server/storage"
	"github.com/orga-server/storage/storagetest"
	"github.com/stretchr/testify/require"
)

func newLocal(t *testing.T) *storage.Local {
	t.Helper()
	// A signing key, so that the suite's SignOptions subtest runs too.
	l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{SigningKey: []byte("conformance-signing-key-32-bytes")})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLocalConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return newLocal(t) })
}

// TestLocalConformanceWithoutOpenat2 runs the suite on the os.Root path that
// kernels before Linux 5.6 (and other systems) take.
func TestLocalConformanceWithoutOpenat2(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		l := newLocal(t)
		storage.WithoutOpenat2(l)
		return l
	})
}

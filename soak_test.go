package storage_test

import (
	"flag"
	"testing"

	"github.com/orga-server/storage"
	"github.com/orga-server/storage/storagetest"
)

var soakOps = flag.Int("soak", 20000, "operations of the model-based soak test, per backend")

// runSoak runs the model-based soak test and reports its figures.
func runSoak(t *testing.T, s storage.Storage) {
	if testing.Short() {
		t.Skip("soak test skipped in -short mode")
	}
	res := storagetest.Soak(t, s, *soakOps, 1)
	t.Logf("soak: %d operations %v, %d divergences", res.Ops, res.ByOp, res.Divergences)
}

func TestLocalSoak(t *testing.T) {
	skipRenameOverOpenUnderWine(t) // its Gets race Puts of the same keys
	runSoak(t, newLocal(t))
}

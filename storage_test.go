package storage_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/orga-server/storage"
	"github.com/orga-server/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newLocal(t *testing.T) *storage.Local {
	t.Helper()
	// A signing key, so that the suite's SignOptions subtest runs too.
	l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{SigningKey: storage.NewSecret("conformance-signing-key-32-bytes")})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	setUpAttrMode(t, l)
	return l
}

// attrModeVar names the attribute mode that a test running this binary
// again (see rerunInMode) asks of every Local the tests make: "headers"
// forces file headers, "probed headers" requires the probe to have chosen
// them.
const attrModeVar = "STORAGE_TEST_ATTRS"

// setUpAttrMode gives l the attribute mode attrModeVar asks for.
func setUpAttrMode(t testing.TB, l *storage.Local) {
	t.Helper()
	switch mode := os.Getenv(attrModeVar); mode {
	case "":
	case "headers":
		require.NoError(t, storage.ForcePortableAttrs(l))
	case "probed headers":
		require.Equal(t, "file headers", l.Attributes(), "the mode NewLocal chose for %s", l.Dir())
	default:
		t.Fatalf("%s=%q: want headers or probed headers", attrModeVar, mode)
	}
}

func TestLocalConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return newLocal(t) })
}

// servedLocal returns a Local whose Handler serves its BaseURL, an absolute
// URL on a test server.
func servedLocal(t *testing.T) *storage.Local {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{BaseURL: srv.URL + "/media/", SigningKey: storage.NewSecret("conformance-signing-key-32-bytes")})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	mux.Handle("/media/", l.Handler())
	return l
}

func TestLocalConformanceHTTP(t *testing.T) {
	storagetest.RunHTTP(t, func(t *testing.T) storage.Storage { return servedLocal(t) })
}

// TestPutNamesBodyErrors checks that an error of the body a Put reads says
// so on both backends, at every size, so that a dropped client or a failed
// download reads apart from a failure of the storage.
func TestPutNamesBodyErrors(t *testing.T) {
	backends := map[string]storage.Storage{"Local": newLocal(t)}
	if testing.Short() {
		t.Log("-short: Local only")
	} else {
		m := needMinIO(t)
		backends["S3"] = emptyS3(t, m.config())
	}
	broken := errors.New("connection reset by peer")
	for name, s := range backends {
		for _, size := range []int{0, 100 << 10, 20 << 20} {
			body := io.MultiReader(io.LimitReader(zeros{}, int64(size)), failing{broken})
			_, err := s.Put(context.Background(), "events/1/logo.png", body, nil)
			require.ErrorIs(t, err, broken, "%s, %d bytes", name, size)
			assert.True(t, strings.HasPrefix(err.Error(), `storage: put "events/1/logo.png": `), "%s, %d bytes: %v", name, size, err)
			assert.Contains(t, err.Error(), "reading the body: connection reset by peer", "%s, %d bytes", name, size)
		}
	}
}

type failing struct{ err error }

func (f failing) Read([]byte) (int, error) { return 0, f.err }

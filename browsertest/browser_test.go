package browsertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/orga-server/storage"
	"github.com/orga-server/storage/internal/testkit"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if n := testkit.MinIOSkips(); n > 0 {
		fmt.Fprintf(os.Stderr, "browsertest: %d tests skipped: %s\n", n, testkit.MissingMinIO)
	}
	os.Exit(code)
}

// chromium returns the path of a Chromium binary. In CI (CI=true), as root,
// it installs Debian's chromium package when it is missing, and fails the
// test when it cannot; elsewhere a machine without it skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	inCI := os.Getenv("CI") == "true"
	if testing.Short() && !inCI {
		t.Skip("starts a browser; skipped with -short")
	}
	find := func() string {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
		}
		return ""
	}
	if p := find(); p != "" {
		return p
	}
	var why string
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 || !inCI {
		// Outside CI a test does not install system packages.
		why = "Chromium is not installed (apt-get install chromium); in CI, as root, the test installs it"
	} else {
		installChromium.Do(func() { installErr = aptInstallChromium(t) })
		if p := find(); p != "" {
			return p
		}
		why = installErr
		if why == "" {
			why = "apt-get installed chromium, but no chromium binary is on PATH"
		}
	}
	if inCI {
		t.Fatal(why)
	}
	t.Skip(why)
	return ""
}

// installChromium makes the tests of one run try apt-get once.
var (
	installChromium sync.Once
	installErr      string
)

// aptInstallChromium installs Debian's chromium package, and returns why
// it could not.
func aptInstallChromium(t *testing.T) string {
	t.Log("installing Debian's chromium package")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "chromium"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Sprintf("apt-get %s: %v\n%s", strings.Join(args, " "), err, tail(out, 2000))
		}
	}
	return ""
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// newTab starts a fresh headless Chromium, with a profile and a home of the
// test's own, and returns the context of its first tab. The browser stops
// at the end of the test, and a failed test shows the end of its output.
func newTab(t *testing.T) context.Context {
	t.Helper()
	bin := chromium(t)
	home := t.TempDir()      // caches land here, not in the real home
	out := &testkit.Buffer{} // Chromium's own goroutines write it
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(home, "profile")),
		chromedp.Env("HOME="+home),
		chromedp.CombinedOutput(out),
	)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() {
			t.Logf("end of Chromium's output:\n%s", tail([]byte(out.String()), 3000))
		}
	})
	// The first call starts the browser, which lives as long as ctx: no
	// timeout on it, but on each action after it (see run).
	require.NoError(t, chromedp.Do(ctx), "start Chromium")
	return ctx
}

// actionTimeout bounds each action of a test on the browser.
const actionTimeout = 60 * time.Second

// run runs actions in the tab, failing the test on error.
func run(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, actionTimeout)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, steps...))
}

// value runs an action that returns a value, failing the test on error.
func value[T any](t *testing.T, tab context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err)
	return v
}

// download is a file that the browser saved.
type download struct {
	url  string
	name string // the name the browser chose for it: Content-Disposition's
	data []byte
}

// allowDownloads makes the tab's browser save each download in a directory
// of the test, named by its GUID, and report it with events.
func allowDownloads(t *testing.T, tab context.Context) string {
	t.Helper()
	dir := t.TempDir()
	yes := true
	_, err := chromedp.Call(tab, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:      browser.SetDownloadBehaviorBehaviorAllowAndName,
		DownloadPath:  dir,
		EventsEnabled: &yes,
	})
	require.NoError(t, err)
	return dir
}

// clickDownload clicks the link with id in the tab, as a user would (a
// navigation, not a fetch), and returns the file that the click saved into
// dir, once the browser reports it complete.
func clickDownload(t *testing.T, tab context.Context, dir, id string) download {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, actionTimeout)
	defer cancel()
	// Subscribed before the click, so that no event is missed.
	begins := chromedp.Events(ctx, browser.DownloadWillBegin)
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID(id))))

	var d download
	var guid string
	for ev, err := range begins {
		require.NoError(t, err, "the click on #%s began a download", id)
		guid, d.url, d.name = ev.GUID, ev.URL, ev.SuggestedFilename
		break
	}
	for ev, err := range progress {
		require.NoError(t, err, "the download of %s completed", d.url)
		if ev.GUID != guid {
			continue
		}
		require.NotEqual(t, browser.DownloadProgressStateCanceled, ev.State, "the download of %s was cancelled", d.url)
		if ev.State == browser.DownloadProgressStateCompleted {
			break
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, guid))
	require.NoError(t, err, "the downloaded file")
	d.data = data
	return d
}

// testPrefix returns a prefix of keys unique to the test.
func testPrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "browsertest-" + hex.EncodeToString(b) + "/"
}

// minioStore returns the S3 backend of MinIO's test bucket, and a prefix
// of the test's own in it, emptied after the test.
func minioStore(t *testing.T) (*storage.S3, string) {
	t.Helper()
	e := testkit.MinIO(t)
	s, err := storage.NewS3(context.Background(), storage.S3Config{
		Bucket: e.Bucket, AccessKey: e.AccessKey, SecretKey: storage.NewSecret(e.SecretKey), Endpoint: e.Endpoint,
	})
	require.NoError(t, err)
	prefix := testPrefix(t)
	t.Cleanup(func() {
		_, err := s.DeletePrefix(context.Background(), prefix)
		if err != nil {
			t.Errorf("emptying %s: %v", prefix, err)
		}
		s.Close()
	})
	return s, prefix
}

// signingKey signs the Local Handler's URLs in these tests.
var signingKey = storage.NewSecret("browsertest-signing-key-0123456789abcdef")

// localStore returns a Local on a directory of the test's own, whose URLs
// are signed, and the prefix its tests use (one of their own, as on MinIO).
func localStore(t *testing.T) (*storage.Local, string) {
	t.Helper()
	l, err := storage.NewLocal(t.TempDir(), &storage.LocalOptions{SigningKey: signingKey})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l, testPrefix(t)
}

// readObject reads an object back through the library.
func readObject(t *testing.T, s storage.Storage, key string) []byte {
	t.Helper()
	r, err := s.Get(context.Background(), key)
	require.NoError(t, err, "get %s", key)
	defer r.Close()
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	return data
}

// linksPage is a page of links, as a site shows them: one for each
// parameter of the query, with the parameter's name as its id and its
// value as its address.
func linksPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, "<!doctype html><html><head><title>links</title></head><body>\n")
	q := r.URL.Query()
	for _, id := range slices.Sorted(maps.Keys(q)) {
		fmt.Fprintf(w, "<p><a id=\"%s\" href=\"%s\">%[1]s</a></p>\n", html.EscapeString(id), html.EscapeString(q.Get(id)))
	}
	fmt.Fprint(w, "</body></html>\n")
}

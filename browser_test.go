//go:build unix

package storage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
		t.Log("installing Debian's chromium package")
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "chromium"}} {
			cmd := exec.CommandContext(ctx, "apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := cmd.CombinedOutput(); err != nil {
				why = fmt.Sprintf("apt-get %s: %v\n%s", strings.Join(args, " "), err, tail(out, 2000))
				break
			}
		}
		if p := find(); p != "" {
			return p
		}
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

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// runChromium loads u in a fresh headless Chromium, with a new profile and
// home, and returns what it prints. With --dump-dom it returns once the DOM
// is printed: a browser that was asked to download something may print it
// and then never exit, so it is killed then, with every process it started.
func runChromium(t *testing.T, bin, u string, extra ...string) string {
	t.Helper()
	home := t.TempDir() // downloads and caches land here, not in the real home
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(home, "profile"),
	}, extra...)
	args = append(args, u)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout := &dumpWatcher{done: make(chan struct{})}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	require.NoError(t, cmd.Start())
	kill := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	defer kill() // the renderers too, whatever happens
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	dumps := slices.Contains(extra, "--dump-dom")
	select {
	case err := <-exited:
		require.NoError(t, err, "chromium %s\n%s", u, tail(stderr.Bytes(), 3000))
	case <-stdout.done:
		if !dumps {
			break
		}
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			kill()
			<-exited
		}
	case <-time.After(90 * time.Second):
		kill()
		<-exited
		t.Fatalf("chromium %s: no result after 90 s\n%s", u, tail(stderr.Bytes(), 3000))
	}
	return stdout.String()
}

// dumpWatcher collects Chromium's output and closes done once a whole
// document has been printed.
type dumpWatcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
	once sync.Once
}

func (d *dumpWatcher) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf.Write(p)
	if bytes.Contains(d.buf.Bytes(), []byte("</html>")) {
		d.once.Do(func() { close(d.done) })
	}
	return len(p), nil
}

func (d *dumpWatcher) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.buf.String()
}

// probeScript is what the uploaded HTML and SVG files run, if anything runs
// them: it leaves a marker in every place an attacker would reach on the
// page's origin, and pings the server, which shows that it ran at all.
const probeScript = `
var m = location.pathname.indexOf("/static/media/") >= 0 ? "upload" : "control";
if (location.pathname.slice(-4) === ".svg") m += "-svg";
try { parent.document.title = "ran-" + m; } catch (e) {}
try { parent.document.body.setAttribute("data-ran-" + m, "1"); } catch (e) {}
try { localStorage.setItem("ran-" + m, "1"); } catch (e) {}
new Image().src = "/mark?" + m;
`

const probeHTML = `<!doctype html><html><head><title>upload</title></head><body><p>uploaded page</p><script>` + probeScript + `</script></body></html>`

const probeSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>` + probeScript + `</script></svg>`

// probeJS is an uploaded script, and what the site's own control script
// runs with "control-js" in its place; probeCSS an uploaded style sheet,
// and the control's with "control" in its place.
const (
	probeJS  = `document.body.setAttribute("data-ran-upload-js", "1"); new Image().src = "/mark?upload-js";`
	probeCSS = `#styled-upload { width: 17px; }`
)

// browserPage embeds the uploads and, after loading, writes what it sees
// into #result for --dump-dom.
const browserPage = `<!doctype html>
<html><head><title>page</title>
<link rel="stylesheet" href="/static/media/uploads/theme.css">
<link rel="stylesheet" href="/control.css">
</head><body>
<div id="styled-upload"></div><div id="styled-control"></div>
<script src="/static/media/uploads/app.js"></script>
<script src="/control.js"></script>
<img id="pic" src="/static/media/uploads/pic.png" alt="">
<img id="svg" src="/static/media/uploads/drawing.svg" alt="">
<iframe id="upload" src="/static/media/uploads/page.html"></iframe>
<iframe id="upload-svg" src="/static/media/uploads/drawing.svg"></iframe>
<iframe id="control" src="/control.html"></iframe>
<pre id="result"></pre>
<script>
window.addEventListener("load", function () {
  setTimeout(function () {
    var pic = document.getElementById("pic");
    var ls = {};
    for (var i = 0; i < localStorage.length; i++) ls[localStorage.key(i)] = localStorage.getItem(localStorage.key(i));
    document.getElementById("result").textContent = JSON.stringify({
      complete: pic.complete,
      width: pic.naturalWidth,
      height: pic.naturalHeight,
      svgWidth: document.getElementById("svg").naturalWidth,
      styledUpload: document.getElementById("styled-upload").getBoundingClientRect().width,
      styledControl: document.getElementById("styled-control").getBoundingClientRect().width,
      localStorage: ls,
      bodyAttrs: Array.prototype.map.call(document.body.attributes, function (a) { return a.name; })
    });
    document.body.setAttribute("data-title-at-end", document.title);
  }, 1000);
});
</script>
</body></html>`

// TestBrowser checks in a real browser that an uploaded image renders on a
// page that embeds it by its URL, while an uploaded HTML page or SVG
// drawing with a script runs nothing on the page's origin, and an uploaded
// script or style sheet that the page links does not take effect.
func TestBrowser(t *testing.T) {
	bin := chromium(t)
	ctx := context.Background()
	l, err := storage.NewLocal(t.TempDir(), nil)
	require.NoError(t, err)
	defer l.Close()
	const width, height = 37, 23
	pic := pngImage(t, width, height)
	for key, data := range map[string]string{
		"uploads/pic.png":     string(pic),
		"uploads/page.html":   probeHTML,
		"uploads/drawing.svg": probeSVG,
		"uploads/app.js":      probeJS,
		"uploads/theme.css":   probeCSS,
	} {
		_, err := l.Put(ctx, key, strings.NewReader(data), nil)
		require.NoError(t, err)
	}

	var mu sync.Mutex
	marks := map[string]int{}
	mux := http.NewServeMux()
	mux.Handle("/static/media/", l.Handler())
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, browserPage)
	})
	// The same HTML as the upload, served as a site's own page would be:
	// it must run, or the test could not tell a blocked script from a
	// broken probe.
	mux.HandleFunc("/control.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, probeHTML)
	})
	mux.HandleFunc("/control.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		fmt.Fprint(w, strings.ReplaceAll(probeJS, "upload-js", "control-js"))
	})
	mux.HandleFunc("/control.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		fmt.Fprint(w, strings.NewReplacer("upload", "control", "17px", "13px").Replace(probeCSS))
	})
	mux.HandleFunc("/navigate", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>navigate</title></head><body><script>
setTimeout(function () { location.href = %q; }, 100);
setTimeout(function () { document.body.setAttribute("data-still-here", "1"); }, 1500);
</script></body></html>`, r.URL.Query().Get("to"))
	})
	mux.HandleFunc("/mark", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		marks[r.URL.RawQuery]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux) // listens on 127.0.0.1
	defer srv.Close()

	// The virtual time budget lets the page's timers run before the dump.
	dom := runChromium(t, bin, srv.URL+"/page", "--virtual-time-budget=5000", "--dump-dom")
	m := regexp.MustCompile(`<pre id="result">([^<]*)</pre>`).FindStringSubmatch(dom)
	require.NotNil(t, m, "the page wrote its result:\n%s", dom)
	var result struct {
		Complete      bool              `json:"complete"`
		Width         int               `json:"width"`
		Height        int               `json:"height"`
		SVGWidth      int               `json:"svgWidth"`
		StyledUpload  float64           `json:"styledUpload"`
		StyledControl float64           `json:"styledControl"`
		LocalStorage  map[string]string `json:"localStorage"`
		BodyAttrs     []string          `json:"bodyAttrs"`
	}
	require.NoError(t, json.Unmarshal([]byte(html.UnescapeString(m[1])), &result), m[1])
	t.Logf("page saw %s", m[1])

	assert.True(t, result.Complete)
	assert.Equal(t, width, result.Width, "the uploaded image rendered at its size")
	assert.Equal(t, height, result.Height)
	assert.Equal(t, 10, result.SVGWidth, "an uploaded SVG still shows as an image, where it runs no script")

	// The control ran on the page's origin, which proves the probe works.
	assert.Contains(t, result.BodyAttrs, "data-ran-control")
	assert.Equal(t, "1", result.LocalStorage["ran-control"])
	mu.Lock()
	assert.Positive(t, marks["control"], "the control pinged the server")
	mu.Unlock()

	// The site's own script and style sheet took effect, which proves the
	// probes work; the uploaded ones did not.
	assert.Contains(t, result.BodyAttrs, "data-ran-control-js")
	assert.NotContains(t, result.BodyAttrs, "data-ran-upload-js", "an uploaded script ran as the site's own")
	assert.Equal(t, 13.0, result.StyledControl)
	assert.NotEqual(t, 17.0, result.StyledUpload, "an uploaded style sheet styled the site's page")

	// The uploads ran nowhere: not on the page's origin, not at all.
	for _, m := range []string{"upload", "upload-svg"} {
		assert.NotContains(t, result.BodyAttrs, "data-ran-"+m)
		assert.NotContains(t, result.LocalStorage, "ran-"+m)
	}
	assert.NotContains(t, dom, `data-title-at-end="ran-upload`)

	// Opened at the top level, as a link would open it, an upload is a
	// download: nothing renders, nothing runs, and the page stays.
	for _, key := range []string{"uploads/page.html", "uploads/drawing.svg"} {
		u, err := l.URL(key)
		require.NoError(t, err)
		dom := runChromium(t, bin, srv.URL+"/navigate?to="+url.QueryEscape(u), "--virtual-time-budget=5000", "--dump-dom")
		assert.Contains(t, dom, `data-still-here="1"`, "%s: the page stayed\n%s", key, dom)
		assert.NotContains(t, dom, "uploaded page", key)
		assert.NotContains(t, dom, "data-ran-", key)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, m := range []string{"upload", "upload-svg", "upload-js"} {
		assert.Zero(t, marks[m], "the %s script never ran", m)
	}
	assert.Subset(t, []string{"control", "control-js"}, keysOf(marks), "no other script ran: %v", marks)
}

// TestBrowserScreenshot checks that the image a page embeds shows up in
// the pixels Chromium draws, not only in the DOM.
func TestBrowserScreenshot(t *testing.T) {
	bin := chromium(t)
	l, err := storage.NewLocal(t.TempDir(), nil)
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Put(context.Background(), "uploads/pic.png", bytes.NewReader(pngImage(t, 40, 40)), nil)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/static/media/", l.Handler())
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><body style="margin:0;background:#fff"><img src="/static/media/uploads/pic.png" style="width:200px;height:200px;image-rendering:pixelated"></body>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	shot := filepath.Join(t.TempDir(), "shot.png")
	runChromium(t, bin, srv.URL+"/page", "--virtual-time-budget=5000", "--screenshot="+shot, "--window-size=400,300", "--hide-scrollbars")
	f, err := os.Open(shot)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	// pngImage paints red 200 everywhere; the white background has 255.
	r, g, b, _ := img.At(100, 100).RGBA()
	assert.InDelta(t, 200, r>>8, 3, "the image is drawn at (100,100): rgb(%d,%d,%d)", r>>8, g>>8, b>>8)
	r, _, _, _ = img.At(300, 250).RGBA()
	assert.Equal(t, uint32(255), r>>8, "the background is white beside it")
}

func keysOf(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/orga-server/storage"
	"github.com/orga-server/storage/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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

// servingPage embeds the uploads and, a second after loading, sets
// window.result to what it sees.
const servingPage = `<!doctype html>
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
<script>
window.addEventListener("load", function () {
  setTimeout(function () {
    var pic = document.getElementById("pic");
    var ls = {};
    for (var i = 0; i < localStorage.length; i++) ls[localStorage.key(i)] = localStorage.getItem(localStorage.key(i));
    window.result = {
      complete: pic.complete,
      width: pic.naturalWidth,
      height: pic.naturalHeight,
      svgWidth: document.getElementById("svg").naturalWidth,
      styledUpload: document.getElementById("styled-upload").getBoundingClientRect().width,
      styledControl: document.getElementById("styled-control").getBoundingClientRect().width,
      localStorage: ls,
      bodyAttrs: Array.prototype.map.call(document.body.attributes, function (a) { return a.name; }),
      title: document.title
    };
  }, 1000);
});
</script>
</body></html>`

// servingSite is a site that serves a Local's uploads at /static/media/
// beside its own pages, and counts the pings of the probes.
type servingSite struct {
	*httptest.Server
	mu    sync.Mutex
	marks map[string]int
}

func newServingSite(t *testing.T, l *storage.Local) *servingSite {
	site := &servingSite{marks: map[string]int{}}
	mux := http.NewServeMux()
	mux.Handle("/static/media/", l.Handler())
	page := func(path, typ, body string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", typ)
			fmt.Fprint(w, body)
		})
	}
	const htmlType = "text/html; charset=utf-8"
	page("/page", htmlType, servingPage)
	// The same HTML as the upload, served as a site's own page would be:
	// it must run, or the test could not tell a blocked script from a
	// broken probe.
	page("/control.html", htmlType, probeHTML)
	page("/control.js", "text/javascript; charset=utf-8", strings.ReplaceAll(probeJS, "upload-js", "control-js"))
	page("/control.css", "text/css; charset=utf-8", strings.NewReplacer("upload", "control", "17px", "13px").Replace(probeCSS))
	mux.HandleFunc("/links", linksPage)
	mux.HandleFunc("/mark", func(w http.ResponseWriter, r *http.Request) {
		site.mu.Lock()
		site.marks[r.URL.RawQuery]++
		site.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	site.Server = httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(site.Close)
	return site
}

func (s *servingSite) pings() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.marks)
}

// TestServing checks in a real browser that an uploaded image renders on a
// page that embeds it by its URL, while an uploaded HTML page or SVG
// drawing with a script runs nothing on the page's origin, an uploaded
// script or style sheet that the page links does not take effect, and a
// link to an uploaded page or drawing downloads it, rendering nothing.
func TestServing(t *testing.T) {
	tab := newTab(t)
	ctx := context.Background()
	l, err := storage.NewLocal(t.TempDir(), nil)
	require.NoError(t, err)
	defer l.Close()
	const width, height = 37, 23
	for key, data := range map[string]string{
		"uploads/pic.png":     string(testkit.PNG(t, width, height)),
		"uploads/page.html":   probeHTML,
		"uploads/drawing.svg": probeSVG,
		"uploads/app.js":      probeJS,
		"uploads/theme.css":   probeCSS,
	} {
		_, err := l.Put(ctx, key, strings.NewReader(data), nil)
		require.NoError(t, err)
	}
	site := newServingSite(t, l)

	type pageResult struct {
		Complete      bool              `json:"complete"`
		Width         int               `json:"width"`
		Height        int               `json:"height"`
		SVGWidth      int               `json:"svgWidth"`
		StyledUpload  float64           `json:"styledUpload"`
		StyledControl float64           `json:"styledControl"`
		LocalStorage  map[string]string `json:"localStorage"`
		BodyAttrs     []string          `json:"bodyAttrs"`
		Title         string            `json:"title"`
	}
	run(t, tab, chromedp.Navigate(site.URL+"/page"))
	result := value(t, tab, chromedp.Poll[pageResult](`window.result`))
	t.Logf("page saw %+v", result)

	assert.True(t, result.Complete)
	assert.Equal(t, width, result.Width, "the uploaded image rendered at its size")
	assert.Equal(t, height, result.Height)
	assert.Equal(t, 10, result.SVGWidth, "an uploaded SVG still shows as an image, where it runs no script")

	// The control ran on the page's origin, which proves the probe works.
	assert.Contains(t, result.BodyAttrs, "data-ran-control")
	assert.Equal(t, "1", result.LocalStorage["ran-control"])
	assert.Positive(t, site.pings()["control"], "the control pinged the server")

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
	assert.False(t, strings.HasPrefix(result.Title, "ran-upload"), "an upload set the page's title: %q", result.Title)

	// Followed from a link, an upload is a download: the browser saves
	// it whole, renders nothing, runs nothing, and the page stays.
	dir := allowDownloads(t, tab)
	for key, name := range map[string]string{"uploads/page.html": "page.html", "uploads/drawing.svg": "drawing.svg"} {
		u, err := l.URL(key)
		require.NoError(t, err)
		link := site.URL + "/links?open=" + url.QueryEscape(u)
		run(t, tab, chromedp.Navigate(link))
		d := clickDownload(t, tab, dir, "open")
		assert.Equal(t, site.URL+u, d.url, key)
		assert.Equal(t, name, d.name, "%s: saved under its own name", key)
		assert.Equal(t, readObject(t, l, key), d.data, "%s: saved whole", key)
		assert.Equal(t, link, value(t, tab, chromedp.Location()), "%s: the page stayed", key)
		body := value(t, tab, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		assert.NotContains(t, body, "uploaded page", key)
		assert.NotContains(t, body, "data-ran-", key)
	}

	pings := site.pings()
	for _, m := range []string{"upload", "upload-svg", "upload-js"} {
		assert.Zero(t, pings[m], "the %s script never ran", m)
	}
	assert.Subset(t, []string{"control", "control-js"}, slices.Collect(maps.Keys(pings)), "no other script ran: %v", pings)
}

// TestScreenshot checks that the image a page embeds shows up in the
// pixels Chromium draws, not only in the DOM.
func TestScreenshot(t *testing.T) {
	tab := newTab(t)
	l, err := storage.NewLocal(t.TempDir(), nil)
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Put(context.Background(), "uploads/pic.png", bytes.NewReader(testkit.PNG(t, 40, 40)), nil)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/static/media/", l.Handler())
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><body style="margin:0;background:#fff"><img id="pic" src="/static/media/uploads/pic.png" style="width:200px;height:200px;image-rendering:pixelated"></body>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	run(t, tab,
		chromedp.EmulateViewport(400, 300),
		chromedp.Navigate(srv.URL+"/page"),
		chromedp.Poll[chromedp.Void](`document.getElementById("pic").complete && document.getElementById("pic").naturalWidth > 0`),
	)
	shot := value(t, tab, chromedp.CaptureScreenshot())
	img, err := png.Decode(bytes.NewReader(shot))
	require.NoError(t, err)
	require.Equal(t, 400, img.Bounds().Dx(), "the screenshot is of the 400×300 viewport")
	// testkit.PNG paints red 200 everywhere; the white background has 255.
	r, g, b, _ := img.At(100, 100).RGBA()
	assert.InDelta(t, 200, r>>8, 3, "the image is drawn at (100,100): rgb(%d,%d,%d)", r>>8, g>>8, b>>8)
	r, _, _, _ = img.At(300, 250).RGBA()
	assert.Equal(t, uint32(255), r>>8, "the background is white beside it")
}

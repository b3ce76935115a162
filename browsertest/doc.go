// Package browsertest holds the tests that drive a real browser, headless
// Chromium, through the Chrome DevTools Protocol with
// github.com/chromedp/chromedp: pages served by a test server embed uploads
// served by Local's Handler, and upload to the Handler and to MinIO
// straight from the browser, with PostForms, signed PUT URLs and signed
// download links.
//
// It is a module of its own so that chromedp and its dependencies stay out
// of the library's go.mod. Run it with MinIO, as scripts/test does:
//
//	scripts/minio start && . .minio/env && (cd browsertest && go test -race ./...)
//
// Without Chromium or MinIO the tests skip; with CI=true they fail instead
// (as root, with apt-get, the tests first install Debian's chromium package).
// The MinIO tests work under a prefix of their own in the shared test
// bucket, which the root package's S3 tests empty: do not run both at once.
package browsertest

package storage

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"hash"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Handler serves l's objects at the path of its BaseURL (of an absolute one
// such as https://cdn.example.com/media/, the path alone), unescaping the rest
// of the request's path once into the key: mount it with
// mux.Handle("/static/media/", l.Handler()), not behind http.StripPrefix. It
// answers:
//
//   - GET and HEAD with the object and its stored headers, ETag and
//     Last-Modified, honouring Range and conditional requests as
//     [http.ServeContent] does; a URL signed with a response content type or
//     disposition serves those instead;
//   - 404 for a missing object, a folder, an invalid key, and a private object
//     without a valid GET signature (so that private and missing look alike);
//     400 for a malformed escape or query;
//   - 403 for a signature that does not verify (tampered, expired, for another
//     key or method, or a Local without a signing key) and for a file the
//     server may not read;
//   - PUT with a valid signature by streaming the body into [Local.Put], 200
//     with the new ETag; a body longer than a signed ContentLength gets 413
//     (never read past it), a shorter one or one not matching a signed
//     ContentMD5 or with a bad Content-Type 400, a key clashing with a
//     folder 409;
//   - POST at the base path with a form made by [Local.SignedPost] (at most
//     16 fields of 4 KiB before the file), refused unless its policy allows
//     it (see SignedPost);
//   - 503 with Retry-After for a PUT or POST beyond LocalOptions.MaxUploads,
//     before reading the body; 408 for an upload stalled for
//     LocalOptions.UploadStallTimeout; 405 for other methods; 500 when the
//     disk fails (read-only, full).
//
// A failed upload stores nothing. The handler sets no size limit beyond signed
// ones: wrap it in [http.MaxBytesHandler] for one (413). Since the objects come
// from users, every response carries "X-Content-Type-Options: nosniff"; HTML,
// SVG, XML and JavaScript are served as attachments under
// "Content-Security-Policy: sandbox", JavaScript and CSS as text/plain, and a
// private object with "Cache-Control: private", never public or s-maxage.
func (l *Local) Handler() http.Handler {
	return &localHandler{l: l, base: basePath(l.baseURL), escapeErr: probeEscapeErr(l)}
}

type localHandler struct {
	l *Local
	// base holds the unescaped segments of BaseURL's path, which every
	// request path must start with.
	base []string
	// escapeErr is the error os.Root returns for a path leaving the root
	// (a symbolic link pointing out), which is unexported: it means "no
	// such object here", not a server failure.
	escapeErr error
}

// basePath splits the path of baseURL into unescaped segments.
func basePath(baseURL string) []string {
	p := baseURL
	if u, err := url.Parse(baseURL); err == nil {
		p = u.Path
	}
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return segs
}

func probeEscapeErr(l *Local) error {
	f, err := l.root.Open("/")
	if err == nil {
		f.Close()
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return nil
}

func (h *localHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Before anything else, so that error pages are not sniffed either.
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPut:
		if !h.startUpload(w, r) {
			return
		}
		defer h.endUpload()
	case http.MethodPost:
		if h.isBase(r.URL) {
			if h.startUpload(w, r) {
				defer h.endUpload()
				h.post(w, r)
			}
			return
		}
		fallthrough
	default:
		allow := "GET, HEAD"
		if h.l.signingKey.IsSet() {
			allow += ", PUT"
		}
		if h.isBase(r.URL) {
			allow += ", POST"
		}
		w.Header().Set("Allow", allow)
		httpError(w, http.StatusMethodNotAllowed, "")
		return
	}
	key, status := h.key(r.URL)
	if status != 0 {
		httpError(w, status, "")
		return
	}
	// Parsed strictly: r.URL.Query drops what it cannot parse (";"
	// separators, parameters past Go's limit), which would let a forged
	// signature hidden behind junk read as no signature at all.
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		httpError(w, http.StatusBadRequest, "malformed query")
		return
	}
	if r.Method == http.MethodPut {
		h.put(w, r, key, q)
		return
	}
	h.get(w, r, key, q)
}

// startUpload takes one of the Local's upload slots for r, whose body it
// makes fail once the client sends nothing for the stall timeout. When every
// slot is taken, it answers 503 and returns false: an upload holds a
// connection, a temporary file and its descriptor, and the server must keep
// enough of them to accept connections.
func (h *localHandler) startUpload(w http.ResponseWriter, r *http.Request) bool {
	select {
	case h.l.uploads <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "1")
		// The unread body would keep the connection busy, and it is
		// connections that run out.
		w.Header().Set("Connection", "close")
		httpError(w, http.StatusServiceUnavailable, "too many uploads at once; retry shortly")
		return false
	}
	r.Body = &stallReader{body: r.Body, rc: http.NewResponseController(w), timeout: h.l.stall}
	return true
}

func (h *localHandler) endUpload() { <-h.l.uploads }

// stallReader reads an upload's body, moving the connection's read deadline
// on before each read: a client that stops sending fails the read after
// timeout, however long the whole upload takes. A server that cannot set
// deadlines leaves stalls to its own timeouts.
type stallReader struct {
	body    io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
}

func (s *stallReader) Read(p []byte) (int, error) {
	s.rc.SetReadDeadline(time.Now().Add(s.timeout))
	return s.body.Read(p)
}

func (s *stallReader) Close() error { return s.body.Close() }

// isBase reports whether u names the base path itself, where forms post.
func (h *localHandler) isBase(u *url.URL) bool {
	p := strings.Trim(u.EscapedPath(), "/")
	for _, seg := range h.base {
		raw, rest, _ := strings.Cut(p, "/")
		if s, err := url.PathUnescape(raw); err != nil || s != seg {
			return false
		}
		p = rest
	}
	return p == ""
}

// key returns the key that u names, or the status to answer with.
func (h *localHandler) key(u *url.URL) (string, int) {
	p := u.EscapedPath()
	if !strings.HasPrefix(p, "/") {
		return "", http.StatusNotFound
	}
	p = p[1:]
	for _, seg := range h.base {
		raw, rest, _ := strings.Cut(p, "/")
		s, err := url.PathUnescape(raw)
		if err != nil {
			return "", http.StatusBadRequest
		}
		if s != seg {
			return "", http.StatusNotFound
		}
		p = rest
	}
	// Unescaped segment by segment, so that an encoded slash stays inside
	// its segment, where checkLocalKey refuses it, instead of making a new
	// one: URL never escapes a slash, so no key's URL contains %2F.
	var b strings.Builder
	for i, raw := range strings.Split(p, "/") {
		s, err := url.PathUnescape(raw)
		if err != nil {
			return "", http.StatusBadRequest
		}
		if strings.Contains(s, "/") {
			return "", http.StatusNotFound
		}
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(s)
	}
	key := b.String()
	if checkLocalKey(key) != nil {
		return "", http.StatusNotFound // no object can have such a key
	}
	return key, 0
}

func (h *localHandler) get(w http.ResponseWriter, r *http.Request, key string, q url.Values) {
	signed := false
	var spec signSpec // the signed response overrides; none without a signature
	if hasSignature(q) {
		// HEAD is signed as GET: it reveals no more than GET does.
		var err error
		if spec, err = h.l.checkSignature(http.MethodGet, key, "", q, time.Now()); err != nil {
			h.fail(w, r, err, true)
			return
		}
		signed = true
	}
	f, attrs, fi, err := h.l.open(key)
	if err != nil {
		h.fail(w, r, err, true)
		return
	}
	defer f.Close()
	if attrs.Private && !signed {
		httpError(w, http.StatusNotFound, "")
		return
	}
	hdr := w.Header()
	contentType, disposition := attrs.ContentType, attrs.ContentDisposition
	if spec.responseType != "" {
		contentType = spec.responseType
	}
	if spec.responseDisposition != "" {
		disposition = spec.responseDisposition
	}
	if _, ok := mediaType(contentType); !ok {
		// Put refuses such a type, but an object may predate that rule or
		// a hand-written attribute: browsers would take the last of a list,
		// and a type that is bytes to us may be a script to them.
		contentType = "application/octet-stream"
	}
	// An override does not make an active object safe: the stored type
	// counts too, so that no signed link renders it inline.
	if isActiveType(contentType) || attrs.ContentType != "" && isActiveType(attrs.ContentType) {
		disposition = attachment(disposition)
		hdr.Set("Content-Security-Policy", "sandbox")
	}
	if essence, _ := mediaType(contentType); isJavaScriptType(essence) || essence == "text/css" {
		// A page loads a script or a style sheet whatever its disposition
		// and CSP: served as its own type, an uploaded one would run as
		// the site's own (past a CSP of 'self', or as a service worker).
		// With nosniff, browsers load neither from text/plain.
		contentType = "text/plain; charset=utf-8"
	}
	// Set before ServeContent, which would otherwise sniff the bytes.
	hdr.Set("Content-Type", contentType)
	if attrs.ETag != "" {
		hdr.Set("Etag", attrs.ETag)
	}
	cacheControl := attrs.CacheControl
	if attrs.Private {
		// A shared cache must not hand a private object to requests
		// without the signature, nor keep it past the signature's expiry.
		cacheControl = privateCacheControl(cacheControl)
	}
	if cacheControl != "" {
		hdr.Set("Cache-Control", cacheControl)
	}
	if disposition != "" {
		hdr.Set("Content-Disposition", disposition)
	}
	if len(r.Header.Get("Range")) > maxRangeHeader {
		// Go before 1.26.9 parses a Range header of any size (GO-2026-6609);
		// no client needs more than a few ranges, and RFC 9110 lets a
		// server ignore Range and send the whole object.
		r.Header.Del("Range")
	}
	var content io.ReadSeeker = f // the *os.File itself lets the kernel send it (sendfile)
	if attrs.dataStart > 0 {
		content = io.NewSectionReader(f, attrs.dataStart, fi.Size()-attrs.dataStart)
	}
	http.ServeContent(w, r, "", fi.ModTime(), content)
}

// maxRangeHeader is the longest Range header the Handler honours: room for
// a dozen ranges of large offsets.
const maxRangeHeader = 512

func (h *localHandler) put(w http.ResponseWriter, r *http.Request, key string, q url.Values) {
	types := r.Header.Values("Content-Type")
	if len(types) > 1 {
		httpError(w, http.StatusBadRequest, "more than one Content-Type")
		return
	}
	contentType := ""
	if len(types) == 1 {
		contentType = types[0]
	}
	spec, err := h.l.checkSignature(http.MethodPut, key, contentType, q, time.Now())
	if err != nil {
		h.fail(w, r, err, false)
		return
	}
	body := io.Reader(r.Body)
	if n := spec.contentLength; n > 0 {
		switch {
		case r.ContentLength > n:
			httpError(w, http.StatusRequestEntityTooLarge, "the body is longer than the signed length")
			return
		case r.ContentLength >= 0 && r.ContentLength < n:
			httpError(w, http.StatusBadRequest, "the body is shorter than the signed length")
			return
		}
		// A chunked body has no length to check first: it is read up to
		// one byte past the signed length, never further.
		// MaxBytesReader also has the server close the connection.
		body = &boundedReader{r: http.MaxBytesReader(w, r.Body, n), min: n, max: n, short: "the body is shorter than the signed length"}
	}
	if spec.contentMD5 != "" {
		sent := r.Header.Values("Content-MD5")
		if len(sent) != 1 || sent[0] != spec.contentMD5 {
			httpError(w, http.StatusBadRequest, "the request lacks the signed Content-MD5")
			return
		}
		want, _ := base64.StdEncoding.DecodeString(spec.contentMD5) // checked by checkSignature
		body = &md5Reader{r: body, h: md5.New(), want: want}
	}
	if contentType == "" {
		contentType = defaultUploadType
	}
	info, err := h.l.Put(r.Context(), key, body, &PutOptions{ContentType: contentType, Private: spec.private})
	if err != nil {
		h.fail(w, r, err, false)
		return
	}
	w.Header().Set("Etag", info.ETag)
	w.WriteHeader(http.StatusOK)
}

// toHTTPError returns the status and the detail the Handler answers err
// with, as net/http's toHTTPError does for http.FileServer: every error the
// Handler answers becomes a status here. reading says that err came from
// opening the object a GET or HEAD names: everything that means "there is no
// object by this name" is then a 404, whatever the filesystem calls it (a
// bad name, one too long, a symbolic-link loop, a folder, a path out of the
// directory), and refused access a 403. On an upload, a bad key or a body
// the signature or form does not allow is the client's error; only real
// failures are a 500.
func (h *localHandler) toHTTPError(err error, reading bool) (status int, detail string) {
	var tooLarge *http.MaxBytesError
	var mismatch *bodyMismatch
	switch {
	case errors.Is(err, errBadSignature), errors.Is(err, errExpired):
		return http.StatusForbidden, err.Error()
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, ""
	case errors.As(err, &mismatch):
		return http.StatusBadRequest, mismatch.what
	case errors.Is(err, fs.ErrInvalid), errors.Is(err, syscall.ENAMETOOLONG): // a key segment past NAME_MAX
		if reading {
			return http.StatusNotFound, "" // no object can have such a key
		}
		return http.StatusBadRequest, ""
	case reading && (errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, syscall.ELOOP) ||
		errors.Is(err, syscall.EISDIR) ||
		h.escapeErr != nil && errors.Is(err, h.escapeErr)):
		return http.StatusNotFound, ""
	case reading && errors.Is(err, fs.ErrPermission):
		return http.StatusForbidden, ""
	case errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadRequest, ""
	case errors.Is(err, fs.ErrExist):
		return http.StatusConflict, ""
	case errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusRequestTimeout, "the upload stalled"
	}
	return http.StatusInternalServerError, ""
}

// fail answers err as toHTTPError maps it, except a failure of an upload
// whose client is gone, which no one would read.
func (h *localHandler) fail(w http.ResponseWriter, r *http.Request, err error, reading bool) {
	status, detail := h.toHTTPError(err, reading)
	if status == http.StatusInternalServerError && !reading && r.Context().Err() != nil {
		return
	}
	httpError(w, status, detail)
}

// bodyMismatch is the error of an upload whose body is not the one signed.
type bodyMismatch struct{ what string }

func (e *bodyMismatch) Error() string { return e.what }

// boundedReader reads an upload of min to max bytes, as a signed length or
// a form's bounds allow: it never reads more than max+1 bytes of r, fails
// past max with an *http.MaxBytesError (413), and at the end of a body
// shorter than min with short (400), before the Put it feeds can commit.
type boundedReader struct {
	r        io.Reader
	n        int64
	min, max int64
	short    string
}

func (b *boundedReader) Read(p []byte) (int, error) {
	left := b.max + 1 - b.n
	if left <= 0 {
		return 0, &http.MaxBytesError{Limit: b.max}
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	switch {
	case b.n > b.max:
		return n, &http.MaxBytesError{Limit: b.max}
	case err == io.EOF && b.n < b.min:
		return n, &bodyMismatch{what: b.short}
	}
	return n, err
}

// md5Reader fails at the end of a body whose MD5 is not want, before the
// Put it feeds can commit it.
type md5Reader struct {
	r    io.Reader
	h    hash.Hash
	want []byte
}

func (m *md5Reader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.h.Write(p[:n])
	if err == io.EOF && !bytes.Equal(m.h.Sum(nil), m.want) {
		err = &bodyMismatch{what: "the body does not match the signed Content-MD5"}
	}
	return n, err
}

// httpError answers with status and a short plain-text body. Every 404
// reads the same, so that a private object cannot be told from a missing one.
func httpError(w http.ResponseWriter, status int, detail string) {
	msg := strconv.Itoa(status) + " " + strings.ToLower(http.StatusText(status))
	if detail != "" {
		msg += ": " + detail
	}
	http.Error(w, msg, status)
}

// isActiveType reports whether a browser would render an object of type
// contentType as a document (which runs its scripts on the site's origin)
// or run it as a script. Anything but one well-formed media type counts as
// active: browsers parse Content-Type more leniently than mime does, and
// take the last of a comma-separated list, so "image/png, text/html" renders
// as HTML. Put refuses such types, but a file may come from elsewhere.
func isActiveType(contentType string) bool {
	essence, ok := mediaType(contentType)
	if !ok {
		return true
	}
	_, sub, _ := strings.Cut(essence, "/")
	switch essence {
	case "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml",
		"application/xml", "text/xsl", "application/xslt+xml", "text/xml-external-parsed-entity",
		"application/xml-external-parsed-entity", "application/xml-dtd",
		"multipart/x-mixed-replace":
		return true
	}
	if strings.HasSuffix(sub, "+xml") {
		return true // browsers render every XML type, scripts in XHTML elements included
	}
	return isJavaScriptType(essence)
}

// isJavaScriptType reports whether essence is one of the JavaScript MIME
// types of the HTML standard, which browsers run as scripts.
func isJavaScriptType(essence string) bool {
	switch essence {
	case "application/ecmascript", "application/javascript", "application/x-ecmascript",
		"application/x-javascript", "text/ecmascript", "text/javascript", "text/jscript",
		"text/livescript", "text/x-ecmascript", "text/x-javascript":
		return true
	}
	return strings.HasPrefix(essence, "text/javascript1.")
}

// privateCacheControl returns a private object's stored Cache-Control
// with "private" in place of the directives that let a shared cache keep
// it ("public", "s-maxage").
func privateCacheControl(stored string) string {
	directives := []string{"private"}
	for d := range strings.SplitSeq(stored, ",") {
		d = strings.TrimSpace(d)
		name, _, _ := strings.Cut(d, "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "", "private", "public", "s-maxage":
			continue
		}
		directives = append(directives, d)
	}
	return strings.Join(directives, ", ")
}

// attachment turns a stored Content-Disposition into an attachment one,
// keeping its parameters (the filename above all).
func attachment(disposition string) string {
	if _, params, err := mime.ParseMediaType(disposition); err == nil && len(params) > 0 {
		if d := mime.FormatMediaType("attachment", params); d != "" {
			return d
		}
	}
	return "attachment"
}

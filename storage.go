// Package storage stores the files that users upload (event logos, speaker
// photos, slides, videos, exports) in Amazon S3 or, as a fallback, on the local
// disk, behind one small interface.
//
// Programs usually call [FromEnv] once at startup and use the [Storage] it
// returns. Every backend reports a missing object with an error for which
// errors.Is(err, fs.ErrNotExist) is true, refused access with fs.ErrPermission,
// and a bad key with [ErrInvalidKey] before doing any I/O.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"mime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Storage stores objects (uploaded files) under slash-separated keys such as
// "events/42/speakers/7/photo.png". All methods are safe for concurrent use.
//
// The contract below binds every implementation; the conformance suite,
// [github.com/orga-server/storage/storagetest.Run], checks it. Every error
// is an [*OpError] naming the method's operation and the key or prefix it
// was given. Keys and prefixes are checked before any I/O ([ValidateKey],
// [ValidatePrefix]): a bad one fails with an error wrapping [ErrInvalidKey].
// A missing object fails with one matching fs.ErrNotExist, refused access
// with fs.ErrPermission, a bad option with fs.ErrInvalid, and a done context
// with the context's error. A nil options pointer means the zero options.
type Storage interface {
	// Put stores r under key, replacing any object there. Readers see the
	// old object or the new one whole, never a part, and a failed or
	// cancelled Put leaves the old one. r is streamed, never read whole into
	// memory. An implementation starts with [PreparePut], which validates
	// the key and options and resolves the content type, so that every
	// backend keeps the same objects.
	Put(ctx context.Context, key string, r io.Reader, opts *PutOptions) (Info, error)
	// Get opens the object under key.
	Get(ctx context.Context, key string) (*Reader, error)
	// GetRange opens length bytes starting at offset; length < 0 reads to
	// the end; a range past the end yields what exists (possibly nothing),
	// not an error. A negative offset fails with fs.ErrInvalid.
	GetRange(ctx context.Context, key string, offset, length int64) (*Reader, error)
	// Stat describes the object under key.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object under key; deleting a missing key is not an
	// error.
	Delete(ctx context.Context, key string) error
	// List yields the objects whose keys start with prefix, in byte order of
	// key; "" lists all. With opts.Delimiter set (usually "/"), keys
	// containing the delimiter after the prefix are grouped into one entry
	// whose Key ends with the delimiter and whose IsDir is true. An object's
	// Info holds its Key, Size, ETag and ModTime only, as S3 lists them;
	// Stat reads the rest. An error ends the sequence.
	List(ctx context.Context, prefix string, opts *ListOptions) iter.Seq2[Info, error]
	// Copy copies src to dst inside the same storage, with its attributes,
	// server-side where the backend can. The error names the key at fault.
	Copy(ctx context.Context, dst, src string) (Info, error)
	// URL returns the object's public URL. It does no I/O.
	URL(key string) (string, error)
	// SignedURL returns a URL granting time-limited access to one object.
	// Options are checked with [SignOptions.Validate].
	SignedURL(ctx context.Context, key string, opts *SignOptions) (string, error)
	// SignedPost returns a form with which a browser uploads one object
	// under key (or, with opts.KeyPrefix, under any valid key starting with
	// key) within opts' bounds until it expires. Key and options are
	// checked with [ValidatePost] before any I/O. A post the form does not allow
	// (too large or too small, another key or content type, expired)
	// is refused with a 4xx status and stores nothing; a successful one is
	// answered 204. The form's fields carry no secret. A backend that serves
	// no HTTP fails with an error wrapping errors.ErrUnsupported.
	SignedPost(ctx context.Context, key string, opts *PostOptions) (PostForm, error)
	// Close releases what the Storage holds (open files, idle connections).
	// Calls after Close may fail.
	Close() error
}

// PrefixDeleter is implemented by a Storage that deletes every object under
// a prefix faster than key by key. [DeletePrefix] calls it once it has
// checked the prefix (never empty, always valid), as [fs.ReadFile] calls
// [fs.ReadFileFS]; it returns how many objects it deleted, even on error.
type PrefixDeleter interface {
	Storage
	DeletePrefix(ctx context.Context, prefix string) (deleted int, err error)
}

// Info describes an object, or a grouped prefix in a delimited listing.
type Info struct {
	Key                string
	Size               int64
	ContentType        string
	ContentDisposition string
	CacheControl       string
	// ETag is quoted, as in an HTTP ETag header. It tells versions of one
	// object apart: it changes when the content does. Local's is the
	// hex MD5 of the content, and so is S3's for an object uploaded in one
	// request; S3's for a multipart upload is the MD5 of its parts' MD5s
	// followed by "-" and the number of parts, and under SSE-KMS no MD5 at
	// all. Files that Local did not
	// write itself (copied in by hand) get one made of their time and size.
	ETag     string
	ModTime  time.Time
	Metadata map[string]string // user metadata; names are lower-case
	IsDir    bool              // a grouped prefix in a delimited listing

	// Private reports an object stored with PutOptions.Private or through
	// a SignedURL with SignOptions.Private, which its plain URL does not
	// serve. Local keeps it with the object. S3 always reports false: who
	// may read an object there is the business of its ACL and the bucket
	// policy, which Stat does not read.
	Private bool
}

// PutOptions holds the optional attributes of an object. A nil *PutOptions is
// the same as a zero one. Put refuses with [fs.ErrInvalid] any attribute that
// S3 would refuse or hand back changed, so that every backend keeps the same
// objects: ContentType must be one media type, and ContentDisposition and
// CacheControl printable ASCII with no space at either end (a file name that
// is not ASCII goes in filename*, as [mime.FormatMediaType] writes it); the
// three together at most 1.5 KiB.
type PutOptions struct {
	ContentType        string // "" = from the key's extension, else sniffed from the first 512 bytes
	ContentDisposition string
	CacheControl       string
	// Metadata names are letters, digits and -_., stored lower-case; values
	// are UTF-8 text without control characters or spaces at either end.
	// Metadata must fit S3's 2 KiB as MinIO counts it: x-amz-meta-, the name
	// and the value for each entry, values that are not ASCII encoded as
	// RFC 2047 words, as S3 takes them.
	Metadata map[string]string

	// Private keeps the object from being served by its plain URL. Local's
	// Handler then serves it only through a SignedURL; S3, when S3Config.ACL
	// is set, sends the "private" canned ACL in its place (with none set,
	// objects get the bucket's default; a bucket policy may still make the
	// object public).
	Private bool
}

// ListOptions controls List. A nil *ListOptions lists every key under the prefix.
type ListOptions struct{ Delimiter string }

// SignOptions controls SignedURL. A nil *SignOptions signs a GET for 15 minutes.
type SignOptions struct {
	Method  string        // http.MethodGet (default) or http.MethodPut
	Expires time.Duration // 0 = 15 minutes; more than 7 days is an error

	// ContentType, for a PUT, is signed into the URL: the upload must then
	// send exactly this Content-Type header, and the object gets it.
	ContentType string

	// Private, for a PUT, stores the upload as PutOptions.Private does. On
	// Local it is signed into the URL, and the object is then served only
	// through SignedURL; without it, the upload is public. On S3, where an
	// upload through a signed URL sends no ACL and so gets the bucket's
	// default access (private unless a bucket policy says otherwise), it
	// changes nothing. A GET ignores it.
	Private bool

	// PUT only. ContentLength > 0 signs the exact size: an upload of any other
	// length is refused and stores nothing. ContentMD5 (base64 of the 16-byte MD5,
	// as in the Content-MD5 header) signs the content: the upload must carry that
	// header and a body that does not match it stores nothing.
	ContentLength int64
	ContentMD5    string

	// GET only: the Content-Disposition and Content-Type of the response, e.g.
	// `attachment; filename="Slides day 1.pdf"`; the stored object is unchanged.
	// Local's Handler still applies its safe-serving rules to them.
	ResponseContentDisposition string
	ResponseContentType        string
}

// Reader streams an object's bytes; Info describes the whole object, even when
// the Reader streams only a range of it. Close must be called; it may be
// called from another goroutine to stop a Read.
//
// Cancelling the context given to Get makes Read fail with the context's
// error, on S3 possibly after bytes already received.
type Reader struct {
	body   io.ReadCloser
	info   Info
	closed atomic.Bool
}

// NewReader returns a Reader streaming body, for an object that info
// describes. It is how a backend written outside this package answers Get
// and GetRange; the Reader's Close closes body, once.
func NewReader(body io.ReadCloser, info Info) *Reader {
	return &Reader{body: body, info: info}
}

// Read reads the object's bytes. After Close it returns [fs.ErrClosed].
func (r *Reader) Read(p []byte) (int, error) {
	if r.closed.Load() {
		return 0, fs.ErrClosed
	}
	return r.body.Read(p)
}

// Close releases the Reader's file or connection. Closing it again returns
// [fs.ErrClosed].
func (r *Reader) Close() error {
	if r.closed.Swap(true) {
		return fs.ErrClosed
	}
	return r.body.Close()
}

// Info describes the whole object.
func (r *Reader) Info() Info { return r.info }

// ErrInvalidKey is wrapped by every error that reports a key breaking the key
// rules (see [ValidateKey]). Such errors also match fs.ErrInvalid.
var ErrInvalidKey error = invalidKey{}

type invalidKey struct{}

func (invalidKey) Error() string        { return "invalid key" }
func (invalidKey) Is(target error) bool { return target == fs.ErrInvalid }

// errNoObject is how Local reports a missing object, in the words S3's
// translation uses; it matches fs.ErrNotExist.
var errNoObject error = noObject{}

type noObject struct{}

func (noObject) Error() string        { return "object does not exist" }
func (noObject) Is(target error) bool { return target == fs.ErrNotExist }

// MaxKeyLen is the longest key, in bytes, that S3 accepts and so every backend.
const MaxKeyLen = 1024

// MaxSegmentLen is the longest segment of a key (the text between slashes),
// in bytes: what a file name holds on common file systems, and what MinIO
// accepts. AWS itself takes longer ones, but a key that one backend cannot
// store would make moving objects between them fail half-way.
const MaxSegmentLen = 255

// ValidateKey reports whether key may name an object: valid UTF-8, 1 to
// MaxKeyLen bytes, no control characters and no backslash, not starting or
// ending with "/", and no empty, "." or ".." segments nor any longer than
// MaxSegmentLen bytes. Every Storage in this package checks it before any
// I/O; a backend written elsewhere should too. The error wraps
// [ErrInvalidKey] and says which rule the key breaks.
func ValidateKey(key string) error {
	if reason := keyProblem(key); reason != "" {
		return fmt.Errorf("%w: %s", ErrInvalidKey, reason)
	}
	return nil
}

// keyProblem returns which rule key breaks, or "". It allocates nothing: it
// runs before every operation.
func keyProblem(key string) string {
	switch {
	case key == "":
		return "empty"
	case len(key) > MaxKeyLen:
		return "longer than " + strconv.Itoa(MaxKeyLen) + " bytes"
	case key[0] == '/':
		return "starts with a slash"
	case key[len(key)-1] == '/':
		return "ends with a slash"
	}
	segStart := 0
	for i := 0; i < len(key); {
		c := key[i]
		if c < utf8.RuneSelf {
			switch {
			case c < 0x20 || c == 0x7f:
				return "contains a control character"
			case c == '\\':
				return "contains a backslash"
			case c == '/':
				if p := segmentProblem(key[segStart:i]); p != "" {
					return p
				}
				segStart = i + 1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(key[i:])
		if r == utf8.RuneError && size == 1 {
			return "is not valid UTF-8"
		}
		if unicode.IsControl(r) {
			return "contains a control character"
		}
		i += size
	}
	return segmentProblem(key[segStart:])
}

func segmentProblem(seg string) string {
	switch seg {
	case "":
		return "has an empty segment (//)"
	case ".", "..":
		return "has a " + strconv.Quote(seg) + " segment"
	}
	if len(seg) > MaxSegmentLen {
		return "has a segment longer than " + strconv.Itoa(MaxSegmentLen) + " bytes"
	}
	return ""
}

// ValidatePrefix reports whether prefix may start a List or DeletePrefix
// prefix. A prefix is a key cut short anywhere, so it is valid when some key
// starts with it: appending one letter must make a valid key ("a/" and "a/."
// pass, "a//" and "../" do not), and "" is valid. The error wraps
// [ErrInvalidKey].
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	last := prefix[strings.LastIndexByte(prefix, '/')+1:]
	if len(prefix) == MaxKeyLen || len(last) == MaxSegmentLen {
		// Too long for one more letter: keys starting with it are the key
		// it is, or that key and a slash and more.
		if reason := keyProblem(prefix); reason != "" {
			return fmt.Errorf("%w: prefix %s", ErrInvalidKey, reason)
		}
		return nil
	}
	if reason := keyProblem(prefix + "x"); reason != "" {
		return fmt.Errorf("%w: prefix %s", ErrInvalidKey, reason)
	}
	return nil
}

// OpError records a failed operation and the key it was given, the way
// [fs.PathError] does for a path, so that every message reads
// `storage: put "events/1/logo.png": …`. Every error a Storage in this
// package returns for one key is an *OpError; errors.Is sees through it to
// fs.ErrNotExist, fs.ErrPermission, fs.ErrInvalid or [ErrInvalidKey].
// Backends written elsewhere should return it too:
// [github.com/orga-server/storage/storagetest.Run]
// checks that they do.
type OpError struct {
	// Op is the operation, as the method is named in lower case, words
	// apart: "put", "get", "get range", "stat", "delete", "list", "copy",
	// "url", "sign", "delete prefix".
	Op  string
	Key string // the key or prefix given; for Copy, the one at fault
	Err error
}

func (e *OpError) Error() string {
	return "storage: " + e.Op + " " + strconv.Quote(e.Key) + ": " + e.Err.Error()
}

func (e *OpError) Unwrap() error { return e.Err }

// wrapErr returns err as an *OpError for op and key, or err itself when it
// already is one, so that a backend calling another layer's wrapped
// function keeps the innermost, most precise, operation.
func wrapErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var already *OpError
	if errors.As(err, &already) {
		return err
	}
	return &OpError{Op: op, Key: key, Err: err}
}

// Exists reports whether an object is stored under key. A missing object is
// (false, nil); any other failure, an invalid key included, is returned.
func Exists(ctx context.Context, s Storage, key string) (bool, error) {
	_, err := s.Stat(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}

// DeletePrefix deletes every object whose key starts with prefix and returns
// how many it deleted. The prefix matches bytes, not segments: "events/4"
// also matches "events/42/logo.png"; end it with "/" to delete a folder. An
// empty prefix is refused with [ErrInvalidKey], so that no typo can empty a
// whole bucket. On error, deleted counts the objects removed before it. A
// Storage that is a [PrefixDeleter] does the work; any other is listed and
// deleted key by key.
func DeletePrefix(ctx context.Context, s Storage, prefix string) (deleted int, err error) {
	if err := checkDeletePrefix(prefix); err != nil {
		return 0, wrapErr("delete prefix", prefix, err)
	}
	if pd, ok := s.(PrefixDeleter); ok {
		return pd.DeletePrefix(ctx, prefix)
	}
	for info, err := range s.List(ctx, prefix, nil) {
		if err != nil {
			return deleted, err
		}
		if err := s.Delete(ctx, info.Key); err != nil {
			return deleted, err
		}
		deleted++
	}
	return deleted, nil
}

// checkDeletePrefix validates a DeletePrefix prefix, which must not be empty.
func checkDeletePrefix(prefix string) error {
	if prefix == "" {
		return fmt.Errorf("%w: an empty prefix would delete everything", ErrInvalidKey)
	}
	return ValidatePrefix(prefix)
}

// checkPut validates the arguments every backend's Put shares, before any
// I/O, and returns the options with nil replaced by the zero value.
func checkPut(key string, opts *PutOptions) (*PutOptions, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &PutOptions{}
	}
	return opts, nil
}

// Validate reports whether Put accepts the options, as documented on
// [PutOptions]; a nil *PutOptions is valid. The error wraps fs.ErrInvalid.
// Every Storage in this package checks it before reading the body; a backend
// written elsewhere should too, so that every backend keeps the same objects.
func (opts *PutOptions) Validate() error {
	if opts == nil {
		return nil
	}
	if err := checkContentType(opts.ContentType); err != nil {
		return err
	}
	for _, h := range [...]struct{ name, value string }{
		{"content disposition", opts.ContentDisposition},
		{"cache control", opts.CacheControl},
	} {
		if !isHeaderValue(h.value) {
			msg := fmt.Sprintf("%s %q must be printable ASCII, with no space at either end", h.name, h.value)
			if h.name == "content disposition" {
				// RFC 6266: a file name that is not ASCII goes in filename*.
				msg += `; a file name that is not ASCII goes in filename*=UTF-8''...`
			}
			return fmt.Errorf("%w: %s", fs.ErrInvalid, msg)
		}
	}
	if err := checkMetadata(opts.Metadata); err != nil {
		return err
	}
	if n := len(opts.ContentType) + len(opts.ContentDisposition) + len(opts.CacheControl); n > maxHeaderAttrsSize {
		return fmt.Errorf("%w: content type, disposition and cache control are %d bytes together, more than %d", fs.ErrInvalid, n, maxHeaderAttrsSize)
	}
	return nil
}

// checkContentType accepts "" and one media type, such as "image/png" or
// "text/plain; charset=utf-8". A list of types is refused: browsers split a
// Content-Type at its commas and take the last type, so "image/png, text/html"
// would be served as an image by every check and rendered as HTML.
func checkContentType(contentType string) error {
	if contentType == "" {
		return nil
	}
	if !isHeaderValue(contentType) {
		return fmt.Errorf("%w: content type %q must be printable ASCII, with no space at either end", fs.ErrInvalid, contentType)
	}
	if _, ok := mediaType(contentType); !ok {
		return fmt.Errorf("%w: content type %q is not one media type such as \"image/png\"", fs.ErrInvalid, contentType)
	}
	return nil
}

// mediaType returns the lower-case type/subtype of contentType, and whether
// contentType is exactly one well-formed media type with no comma anywhere.
func mediaType(contentType string) (essence string, ok bool) {
	essence, _, err := mime.ParseMediaType(contentType)
	ok = err == nil && strings.Contains(essence, "/") && !strings.Contains(contentType, ",")
	return essence, ok
}

// maxHeaderAttrsSize bounds the other attributes together. With metadata at
// its limit they then still fit where Local keeps them, ext4's one 4 KiB
// block for attributes, unless made mostly of characters that JSON escapes
// (", \, U+2028, U+2029).
const maxHeaderAttrsSize = 1536

// isHeaderValue reports whether s goes into an HTTP header and comes back
// unchanged: printable ASCII, with no space at either end, which servers trim.
func isHeaderValue(s string) bool {
	if hasEndSpace(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func hasEndSpace(s string) bool {
	return s != "" && (s[0] == ' ' || s[len(s)-1] == ' ')
}

// maxSignExpiry is the longest validity SigV4 allows, kept for every backend.
const maxSignExpiry = 7 * 24 * time.Hour

// bodyReader reads the body of a Put. It stops the Put once ctx is done,
// even if the body would keep producing, counts the bytes, and labels the
// body's own errors, which a caller must tell apart from the storage's.
type bodyReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF {
		err = &bodyError{err}
	}
	return n, err
}

// bodyError is an error of the body a Put reads.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "reading the body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// fill reads from r until buf is full or r ends, as io.ReadFull does, but
// takes only io.EOF for the end: a reader's own io.ErrUnexpectedEOF (a cut
// download, a truncated gzip stream) is an error, or a Put would store the
// part it got. ended reports that r returned io.EOF.
func fill(r io.Reader, buf []byte) (n int, ended bool, err error) {
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		switch {
		case err == io.EOF:
			return n, true, nil
		case err != nil:
			return n, false, err
		}
	}
	return n, false, nil
}

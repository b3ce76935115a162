// Package storage stores the files that users upload (event logos, speaker
// photos, slides, videos, exports) in Amazon S3 or, as a fallback, on the local
// disk, behind one small interface, [Storage]. Programs usually call [FromEnv]
// once at startup and use the Storage it returns.
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
// "events/42/speakers/7/photo.png". Its methods are safe for concurrent use.
//
// Every implementation keeps this contract, which
// [github.com/orga-server/storage/storagetest.Run] checks: each error is an
// [*OpError]; a key or prefix is checked before any I/O ([ValidateKey],
// [ValidatePrefix]) and a bad one fails with [ErrInvalidKey]; a missing object
// fails with fs.ErrNotExist, refused access with fs.ErrPermission, a bad option
// with fs.ErrInvalid, a done context with its error. Nil options are the zero
// options.
type Storage interface {
	// Put stores r under key, streamed, replacing any object there: readers
	// see the old object or the new one whole, and a failed Put leaves the
	// old one. Implementations start with [PreparePut].
	Put(ctx context.Context, key string, r io.Reader, opts *PutOptions) (Info, error)
	Get(ctx context.Context, key string) (*Reader, error)
	// GetRange opens length bytes from offset, to the end when length < 0; a
	// range past the end yields what exists. A negative offset is invalid.
	GetRange(ctx context.Context, key string, offset, length int64) (*Reader, error)
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object under key; a missing one is no error.
	Delete(ctx context.Context, key string) error
	// List yields the objects under prefix ("" for all) in byte order of
	// key, their Info with at least Key, Size, ETag and ModTime (Stat has
	// the rest). With opts.Delimiter (usually "/"), keys holding it after the
	// prefix are grouped into one IsDir entry ending with it. An error ends
	// the sequence.
	List(ctx context.Context, prefix string, opts *ListOptions) iter.Seq2[Info, error]
	// Copy copies src to dst with its attributes, on the server where it
	// can. The error names the key at fault.
	Copy(ctx context.Context, dst, src string) (Info, error)
	// URL returns the object's public URL, without I/O.
	URL(key string) (string, error)
	// SignedURL returns a URL granting access to one object until it
	// expires (see [SignOptions]).
	SignedURL(ctx context.Context, key string, opts *SignOptions) (string, error)
	// SignedPost returns a form, with no secret in it, through which a
	// browser uploads one object under key (or under key as a prefix) within
	// opts' bounds; checked first with [ValidatePost]. A post outside them is
	// refused (4xx) and stores nothing; a successful one gets 204. A backend
	// serving no HTTP fails with errors.ErrUnsupported.
	SignedPost(ctx context.Context, key string, opts *PostOptions) (PostForm, error)
	// Close releases what the Storage holds; later calls may fail.
	Close() error
}

// PrefixDeleter is implemented by a Storage that deletes every object under a
// prefix faster than key by key. [DeletePrefix] calls it with a checked,
// non-empty prefix, as [fs.ReadFile] calls [fs.ReadFileFS]; it returns how
// many objects it deleted, even on error.
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
	// ETag, quoted, changes when the content does. It is the hex MD5 of the
	// content on Local and, on S3, for an object uploaded in one request
	// without SSE-KMS; a multipart upload's is the MD5 of its parts' MD5s,
	// "-" and their count. A file copied into Local by hand gets one of its
	// time and size.
	ETag     string
	ModTime  time.Time
	Metadata map[string]string // names in lower case
	IsDir    bool              // a grouped prefix

	// Private reports an object stored private (PutOptions.Private). S3
	// knows it only when S3Config.ACL is set, from the object's ACL, which
	// Stat reads; otherwise access is the bucket policy's business, and S3
	// reports false.
	Private bool
}

// PutOptions holds an object's optional attributes. Put refuses with
// [fs.ErrInvalid] what S3 would refuse or change, so that every backend keeps
// the same objects: a ContentType that is not one media type, a
// ContentDisposition or CacheControl that is not printable ASCII without
// spaces at either end (a non-ASCII file name goes in filename*), the three
// over 1.5 KiB together.
type PutOptions struct {
	ContentType        string // "" = from the key's extension, else sniffed
	ContentDisposition string
	CacheControl       string
	// Metadata names are letters, digits and -_. (kept in lower case),
	// values UTF-8 text without control characters or spaces at either
	// end, all within S3's 2 KiB.
	Metadata map[string]string
	// Private keeps the object from its plain URL: Local serves it to
	// signed URLs only; S3 sends the "private" ACL in place of S3Config.ACL,
	// or nothing when that is unset.
	Private bool
}

// ListOptions controls List.
type ListOptions struct{ Delimiter string }

// SignOptions controls SignedURL. The zero value signs a GET for 15 minutes.
// Options that do not apply to the method are ignored.
type SignOptions struct {
	Method  string        // http.MethodGet (default; HEAD too) or http.MethodPut
	Expires time.Duration // 0 = 15 minutes; at most 7 days

	// PUT only: each one set is signed, and an upload breaking it is
	// refused and stores nothing. ContentType must then be the upload's
	// Content-Type (else any, binary/octet-stream when none); ContentLength
	// its exact size; ContentMD5 (base64, as in the header) sent as
	// Content-MD5 and matching the body. Private stores the object private
	// (on S3, where signed uploads send no ACL, it changes nothing).
	ContentType   string
	ContentLength int64
	ContentMD5    string
	Private       bool

	// GET only: the response's Content-Disposition and Content-Type, e.g.
	// `attachment; filename="Slides day 1.pdf"`, under Local's safe-serving
	// rules still.
	ResponseContentDisposition string
	ResponseContentType        string
}

// Reader streams an object's bytes; Info describes the whole object, also for
// a range. Close must be called, and may be called from another goroutine to
// stop a Read. Once Get's context is done, Read fails with its error.
type Reader struct {
	body   io.ReadCloser
	info   Info
	closed atomic.Bool
}

// NewReader returns a Reader of body, which info describes, for backends written
// elsewhere. Close closes body once.
func NewReader(body io.ReadCloser, info Info) *Reader {
	return &Reader{body: body, info: info}
}

// Read reads the object's bytes, or fails with [fs.ErrClosed] after Close.
func (r *Reader) Read(p []byte) (int, error) {
	if r.closed.Load() {
		return 0, fs.ErrClosed
	}
	return r.body.Read(p)
}

// Close releases the file or connection; again, it returns [fs.ErrClosed].
func (r *Reader) Close() error {
	if r.closed.Swap(true) {
		return fs.ErrClosed
	}
	return r.body.Close()
}

// Info describes the whole object.
func (r *Reader) Info() Info { return r.info }

// ErrInvalidKey is wrapped by errors reporting a key that breaks the rules (see
// [ValidateKey]). They also match fs.ErrInvalid.
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

// MaxKeyLen is the longest key in bytes, S3's limit.
const MaxKeyLen = 1024

// MaxSegmentLen is the longest segment of a key (between slashes), in bytes:
// what file systems and MinIO hold. AWS takes longer ones, but then a move
// between backends would fail half-way.
const MaxSegmentLen = 255

// ValidateKey reports whether key may name an object: valid UTF-8 of 1 to
// MaxKeyLen bytes without control characters or backslash, not starting or
// ending with "/", with no empty, ".", ".." or over-long segment. The error
// wraps [ErrInvalidKey] and names the rule broken.
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

// ValidatePrefix reports whether prefix may start a List or DeletePrefix: a
// valid key cut short anywhere, or "" ("a/" passes, "a//" does not). The error
// wraps [ErrInvalidKey].
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

// OpError records a failed operation on a key, as [fs.PathError] does for a
// path: `storage: put "events/1/logo.png": …`. Every Storage returns it, and
// errors.Is sees through it.
type OpError struct {
	Op  string // the method in lower case, words apart: "put", "get range"…
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

// Exists reports whether an object is stored under key; only other failures
// are errors.
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

// DeletePrefix deletes every object whose key starts with prefix, byte-wise
// ("events/4" matches "events/42/logo.png"; end it with "/" for a folder), and
// returns how many it deleted, also on error. An empty prefix fails with
// [ErrInvalidKey], so that no typo empties a bucket. A [PrefixDeleter] does the
// work; any other Storage is listed and deleted key by key.
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

// Validate reports whether Put accepts opts (see [PutOptions]), with an error
// wrapping fs.ErrInvalid. Nil is valid.
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

package storage

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// LocalOptions configures a [Local]. The zero value serves URLs under
// /static/media/ and cannot sign URLs.
type LocalOptions struct {
	// BaseURL is what URL puts before the escaped key; "" means "/static/media/".
	BaseURL string
	// SigningKey is the secret that signs URLs, at least 32 random bytes;
	// nil disables SignedURL.
	// It is never printed: fmt, log/slog and encoding/json show
	// "[redacted]" in its place.
	SigningKey []byte
}

// String returns the options with the signing key redacted.
func (o LocalOptions) String() string { return o.fields().String() }

// GoString returns a Go expression for the options with the signing key
// redacted; %#v uses it.
func (o LocalOptions) GoString() string { return o.fields().goString("storage.LocalOptions") }

// Format implements fmt.Formatter, so that no verb prints the signing key.
func (o LocalOptions) Format(f fmt.State, verb rune) {
	o.fields().format(f, verb, "storage.LocalOptions")
}

// LogValue implements slog.LogValuer with the signing key redacted.
func (o LocalOptions) LogValue() slog.Value { return o.fields().logValue() }

// MarshalJSON encodes the options with the signing key redacted.
func (o LocalOptions) MarshalJSON() ([]byte, error) { return o.fields().marshalJSON() }

func (o LocalOptions) fields() configFields {
	return configFields{{"BaseURL", o.BaseURL}, {"SigningKey", redactedSecret(string(o.SigningKey))}}
}

// Local stores objects as files under one directory: the object "a/b.png" is
// the file <dir>/a/b.png. Its attributes (content type, disposition, cache
// control, metadata and ETag) live in an extended attribute of the same file,
// so that one rename replaces data and attributes together.
//
// Put writes a temporary file beside the target, syncs it, renames it into
// place and syncs the directory: when Put returns, the object survives a
// crash, and a failed, cancelled or interrupted Put leaves the old object
// intact. Delete and DeletePrefix sync the folders they change, so that a
// deleted object does not come back after a crash either. Temporary files
// have names no key can have, so List never shows them; a process killed
// mid-Put leaves one behind, which Cleanup removes.
//
// Files are written through an [os.Root] and read through openat2 with
// RESOLVE_BENEATH (the os.Root where the kernel lacks it), so no key and no
// symbolic link inside the directory reaches a file outside it. Local is
// safe for concurrent use, also by several processes sharing the directory.
// It needs Linux and a filesystem with user extended attributes (ext4, XFS,
// Btrfs, ZFS, tmpfs on Linux 6.6 or later); elsewhere NewLocal fails.
type Local struct {
	root       *os.Root
	files      beneath // opens objects for reading in one system call
	dir        string
	baseURL    string
	signingKey []byte
	synced     func(dir string) // tests only: called after each folder sync

	// makingFolders counts the mkdirAll calls in progress: see createTemp.
	makingFolders atomic.Int32
}

var (
	_ Storage       = (*Local)(nil)
	_ prefixDeleter = (*Local)(nil)
)

// attrName is the extended attribute that holds an object's attributes.
const attrName = "user.orga-storage"

// tempMarker starts the name of every temporary file. Keys cannot contain a
// backslash, so no object is ever mistaken for a temporary file or the
// reverse.
const tempMarker = `.put\`

// NewLocal returns a Local storing objects under dir, which it creates if
// missing. It fails when dir cannot be created or its filesystem does not
// keep extended attributes. A dir this process may not write to (a read-only
// mount, say) is accepted: reads work, and writes fail with the filesystem's
// error, such as [fs.ErrPermission] or EROFS. A SigningKey shorter than 32
// bytes is refused with an error wrapping [fs.ErrInvalid].
func NewLocal(dir string, opts *LocalOptions) (*Local, error) {
	if opts == nil {
		opts = &LocalOptions{}
	}
	if n := len(opts.SigningKey); n > 0 && n < minSigningKeyLen {
		return nil, fmt.Errorf("storage: local signing key: %w: %d bytes long; use at least %d random bytes", fs.ErrInvalid, n, minSigningKeyLen)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: local directory: %w", err)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: local directory: %w", err)
	}
	l := &Local{root: root, files: newBeneath(root, dir), dir: dir, baseURL: cmp.Or(opts.BaseURL, "/static/media/"), signingKey: opts.SigningKey}
	if err := l.probeAttrs(); err != nil {
		l.Close()
		return nil, fmt.Errorf("storage: local directory %s: %w", dir, err)
	}
	return l, nil
}

// probeAttrs fails early, at startup, on a filesystem that would make every
// Put fail.
func (l *Local) probeAttrs() error {
	f, name, err := createTempIn(l.root)
	if errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) {
		// A directory this process may not write to can still be read from
		// (a read-only mount, a backup): ask without writing. Put then fails
		// with the same error.
		return l.probeAttrsReadOnly()
	}
	if err != nil {
		return plainErr(err)
	}
	defer l.root.Remove(name)
	defer f.Close()
	if err := setAttr(f, attrName, []byte("{}")); err != nil {
		return errNoAttrs(err)
	}
	return nil
}

func (l *Local) probeAttrsReadOnly() error {
	d, err := l.root.Open(".")
	if err != nil {
		return plainErr(err)
	}
	defer d.Close()
	if err := attrsReadable(d); err != nil {
		return errNoAttrs(err)
	}
	return nil
}

func errNoAttrs(err error) error {
	return fmt.Errorf("its filesystem does not keep extended attributes, which hold the objects' content types and metadata: %w", err)
}

// String describes the Local without its signing key.
func (l *Local) String() string { return l.fields().String() }

// GoString returns a description of the Local without its signing key;
// %#v uses it.
func (l *Local) GoString() string { return l.fields().goString("storage.Local") }

// Format implements fmt.Formatter, so that no verb prints the signing key.
func (l *Local) Format(f fmt.State, verb rune) { l.fields().format(f, verb, "storage.Local") }

// LogValue implements slog.LogValuer without the signing key.
func (l *Local) LogValue() slog.Value { return l.fields().logValue() }

// MarshalJSON encodes the description of the Local, without its signing key.
func (l *Local) MarshalJSON() ([]byte, error) { return l.fields().marshalJSON() }

func (l *Local) fields() configFields {
	return configFields{{"Dir", l.dir}, {"BaseURL", l.baseURL}, {"SigningKey", redactedSecret(string(l.signingKey))}}
}

// Close releases the directory. The Local must not be used afterwards.
func (l *Local) Close() error {
	l.files.close()
	return l.root.Close()
}

// Dir returns the absolute path of the directory holding the objects.
func (l *Local) Dir() string { return l.dir }

// BaseURL returns what URL puts before an escaped key, e.g. "/static/media/".
func (l *Local) BaseURL() string { return l.baseURL }

// localAttrs is what the extended attribute holds.
type localAttrs struct {
	// One-letter names keep the common case, a type and an ETag, within the
	// inode; see encode.
	ContentType        string            `json:"t,omitempty"`
	ContentDisposition string            `json:"d,omitempty"`
	CacheControl       string            `json:"c,omitempty"`
	Metadata           map[string]string `json:"m,omitempty"`
	ETag               string            `json:"e,omitempty"`
	Private            bool              `json:"p,omitempty"`
}

// legacyAttrs is the format that builds before the one-letter names wrote,
// always with the content type first.
type legacyAttrs struct {
	ContentType        string            `json:"type,omitempty"`
	ContentDisposition string            `json:"disposition,omitempty"`
	CacheControl       string            `json:"cache,omitempty"`
	Metadata           map[string]string `json:"meta,omitempty"`
	ETag               string            `json:"etag,omitempty"`
	Private            bool              `json:"private,omitempty"`
}

// encode returns the attributes as stored for key. The xattr stays small
// enough for ext4 to keep it inside the inode (about 60 bytes), which spares
// every Put the write of a separate metadata block: the content type is left
// out when key's extension implies it, and the ETag is kept without quotes.
func (a localAttrs) encode(key string) []byte {
	if a.ContentType == impliedType(key) {
		a.ContentType = ""
	}
	a.ETag = strings.Trim(a.ETag, `"`)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<" as \u003c would take six bytes of the block
	enc.Encode(a)            // strings, a bool and a map of strings cannot fail
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// decode reverses encode, and reads the format of earlier builds too.
func (a *localAttrs) decode(raw []byte, key string) error {
	if bytes.HasPrefix(raw, []byte(`{"type":`)) {
		var old legacyAttrs
		if err := json.Unmarshal(raw, &old); err != nil {
			return err
		}
		*a = localAttrs(old)
	} else if err := json.Unmarshal(raw, a); err != nil {
		return err
	}
	a.ContentType = cmp.Or(a.ContentType, impliedType(key))
	if a.ETag != "" {
		a.ETag = `"` + strings.Trim(a.ETag, `"`) + `"`
	}
	return nil
}

// Put stores r under key. See [Local] for what it guarantees.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, opts *PutOptions) (Info, error) {
	info, err := l.put(ctx, key, r, opts)
	return info, wrapErr("put", key, err)
}

func (l *Local) put(ctx context.Context, key string, r io.Reader, opts *PutOptions) (Info, error) {
	opts, err := checkPut(key, opts)
	if err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	contentType, r, err := detectContentType(key, opts.ContentType, &bodyReader{ctx: ctx, r: r})
	if err != nil {
		return Info{}, err
	}
	return l.write(ctx, key, r, localAttrs{
		ContentType:        contentType,
		ContentDisposition: opts.ContentDisposition,
		CacheControl:       opts.CacheControl,
		Metadata:           lowerMetadata(opts.Metadata, sameValue),
		ETag:               newETag(),
		Private:            opts.Private,
	})
}

// write stores src under key with attrs, atomically and durably.
func (l *Local) write(ctx context.Context, key string, src io.Reader, attrs localAttrs) (Info, error) {
	dir, name := path.Dir(key), path.Base(key)
	// Every os.Root call walks its path one folder at a time, so the folder
	// is opened once, and the temporary file, the rename and the sync are
	// done relative to it rather than each walking the key again.
	if err := checkNameLengths(key); err != nil {
		return Info{}, err // before the body is read, not at the rename
	}
	folder, f, tmp, err := l.createTemp(ctx, dir)
	if err != nil {
		// Folders made for this object would be left empty, and an empty
		// folder "a" keeps the key "a" from being stored.
		l.prune(dir)
		return Info{}, err
	}
	defer folder.Close()
	committed := false
	defer func() {
		if !committed {
			f.Close()
			folder.Remove(tmp)
			// Folders made for this object would be left empty, and an
			// empty folder "a" keeps the key "a" from being stored.
			l.prune(dir)
		}
	}()

	if _, err := copyData(f, src); err != nil {
		return Info{}, plainErr(err)
	}
	encoded := attrs.encode(key)
	if err := setAttr(f, attrName, encoded); err != nil {
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.E2BIG) {
			// ext4 keeps an attribute in one block: about 4 KB.
			return Info{}, fmt.Errorf("keep attributes of %d bytes (the disk is full, or its file system holds no attributes this large): %w", len(encoded), plainErr(err))
		}
		return Info{}, fmt.Errorf("keep attributes: %w", plainErr(err))
	}
	if err := f.Sync(); err != nil {
		return Info{}, plainErr(err)
	}
	fi, err := f.Stat()
	if err != nil {
		return Info{}, plainErr(err)
	}
	// The last moment a cancellation can still leave the old object in place.
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	// f stays open, and so locked, until the rename: Cleanup takes an
	// unlocked temporary file for a dead Put's and removes it.
	err = folder.Rename(tmp, name)
	if st, serr := folder.Lstat(name); err != nil && serr == nil && st.IsDir() {
		// An empty folder, which a crash can leave behind, gives way to
		// the object; Remove takes no folder that holds anything.
		if folder.Remove(name) != nil {
			return Info{}, fmt.Errorf("%w: on local disk %q is a folder holding other objects", fs.ErrExist, key)
		}
		err = folder.Rename(tmp, name)
	}
	if err != nil {
		return Info{}, plainErr(err)
	}
	committed = true
	// The data and attributes are synced: a failing close loses nothing.
	f.Close()
	if err := l.syncFolder(folder, ".", dir); err != nil {
		return Info{}, plainErr(err)
	}
	return attrs.info(key, fi), nil
}

// createTemp opens the folder dir, creating it if needed, and creates a
// temporary file in it, locked so that Cleanup can tell a live Put's file
// from a dead one's. The caller closes the folder.
func (l *Local) createTemp(ctx context.Context, dir string) (folder *os.Root, f *os.File, name string, err error) {
	for attempt := 0; ; attempt++ {
		folder, err = l.root.OpenRoot(dir)
		if err == nil && l.makingFolders.Load() > 0 {
			// Another Put may have just made dir, or a folder above it,
			// and not yet synced the folder holding it: this Put must not
			// return before the path to its object survives a crash.
			if err = l.syncAncestors(dir); err != nil {
				folder.Close()
			}
		}
		if err == nil {
			f, name, err = createTempIn(folder)
			if err == nil {
				return folder, f, name, nil
			}
			folder.Close()
		}
		// A concurrent Delete may prune the folder between making it and
		// creating the file: make it again, for as long as the caller
		// waits (and a bound, should Deletes never pause).
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, fs.ErrNotExist) {
			return nil, nil, "", ctxErr
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == maxFolderAttempts {
			if l.notFolder(dir) {
				return nil, nil, "", fmt.Errorf("%w: on local disk a part of %q is an object, not a folder", fs.ErrExist, dir)
			}
			return nil, nil, "", plainErr(err)
		}
		if err := l.mkdirAll(dir); err != nil {
			return nil, nil, "", err
		}
	}
}

// notFolder reports whether dir, or a folder on its path, is a file. It
// explains the errors of OpenRoot, which are not all syscall.ENOTDIR.
func (l *Local) notFolder(dir string) bool {
	st, err := l.root.Stat(dir)
	return errors.Is(err, syscall.ENOTDIR) || err == nil && !st.IsDir()
}

// createTempIn creates and locks a temporary file in folder. Until it is
// locked, Cleanup may take it for a dead Put's and remove its name; then the
// lock is on a file no name leads to, and another one is made.
func createTempIn(folder *os.Root) (*os.File, string, error) {
	for {
		name := tempMarker + randomHex(8)
		f, err := folder.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, "", err
		}
		if err := lockFile(f, true); err != nil {
			f.Close()
			folder.Remove(name)
			return nil, "", plainErr(err)
		}
		gone, err := unlinked(f)
		if err == nil && !gone {
			return f, name, nil
		}
		f.Close()
		if err != nil {
			folder.Remove(name)
			return nil, "", plainErr(err)
		}
	}
}

// maxFolderAttempts bounds the times a Put makes its folders again after a
// concurrent Delete pruned them.
const maxFolderAttempts = 100

// mkdirAll creates dir one folder at a time, and syncs the folder holding
// each folder it makes, so that a new object's path survives a crash as the
// object does. Whether it made a folder is what Mkdir says, not what an
// earlier look said: a Delete may prune one meanwhile. When one prunes the
// folder above the next, it starts again from the top.
func (l *Local) mkdirAll(dir string) error {
	l.makingFolders.Add(1)
	defer l.makingFolders.Add(-1)
	segments := strings.Split(dir, "/")
	for attempt, i := 0, 0; i < len(segments); i++ {
		d := strings.Join(segments[:i+1], "/")
		err := l.root.Mkdir(d, 0o755)
		switch {
		case err == nil:
			if err := l.syncFolder(l.root, path.Dir(d), path.Dir(d)); err != nil {
				return plainErr(err)
			}
		case errors.Is(err, fs.ErrExist):
			// Made already, or an object: the next level, or the
			// caller's OpenRoot, tells which.
		case errors.Is(err, fs.ErrNotExist) && i > 0 && attempt < maxFolderAttempts:
			attempt++
			i = -1 // pruned above: from the top again
		case errors.Is(err, syscall.ENOTDIR):
			return fmt.Errorf("%w: on local disk a part of %q is an object, not a folder", fs.ErrExist, dir)
		default:
			return plainErr(err)
		}
	}
	return nil
}

// checkNameLengths refuses a key with a segment longer than a file name may
// be on Linux filesystems (NAME_MAX): ValidateKey allows it, as S3 does.
func checkNameLengths(key string) error {
	for seg := range strings.SplitSeq(key, "/") {
		if len(seg) > maxNameLen {
			return fmt.Errorf("a key segment of %d bytes: on local disk a file or folder name holds at most %d: %w", len(seg), maxNameLen, syscall.ENAMETOOLONG)
		}
	}
	return nil
}

// maxNameLen is NAME_MAX of ext4, XFS, Btrfs and tmpfs.
const maxNameLen = 255

// syncAncestors syncs the folders that hold dir and each folder above it.
func (l *Local) syncAncestors(dir string) error {
	for d := dir; d != "."; d = path.Dir(d) {
		if err := l.syncFolder(l.root, path.Dir(d), path.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// syncFolder syncs the folder dir, which is name in root, so that the entries
// added to it or removed from it survive a crash.
func (l *Local) syncFolder(root *os.Root, name, dir string) error {
	d, err := root.Open(name)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return err
	}
	if l.synced != nil {
		l.synced(dir)
	}
	return nil
}

// open opens the object under key, with its attributes.
func (l *Local) open(key string) (*os.File, localAttrs, fs.FileInfo, error) {
	if err := ValidateKey(key); err != nil {
		return nil, localAttrs{}, nil, err
	}
	f, err := l.files.open(key)
	if err != nil {
		return nil, localAttrs{}, nil, openErr(err)
	}
	attrs, fi, err := readAttrs(f, key)
	if err != nil {
		f.Close()
		return nil, localAttrs{}, nil, err
	}
	return f, attrs, fi, nil
}

// describe returns the Info of the object under key, a valid key. Stat and
// List need no reader, so the file is not opened as an *os.File.
func (l *Local) describe(key string) (Info, error) {
	attrs, fi, err := l.files.describe(key)
	if err != nil {
		return Info{}, openErr(err)
	}
	return attrs.info(key, fi), nil
}

// openErr turns an error opening a key's file into the error for the key.
func openErr(err error) error {
	if noSuchPath(err) {
		return errNoObject
	}
	return plainErr(err)
}

// noSuchPath reports whether err says that no file can be at the path: it
// does not exist, a part of it is a file, or a part is longer than the file
// system allows (a valid key may have segments past NAME_MAX).
func noSuchPath(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ENAMETOOLONG)
}

// readAttrs returns the attributes of the open file f stored under key.
func readAttrs(f *os.File, key string) (localAttrs, fs.FileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return localAttrs{}, nil, plainErr(err)
	}
	attrs, err := attrsOf(int(f.Fd()), key, fi)
	return attrs, fi, err
}

// describeInRoot is describe through the os.Root, for where openat2 cannot.
func describeInRoot(root *os.Root, key string) (localAttrs, fs.FileInfo, error) {
	f, err := root.Open(key)
	if err != nil {
		return localAttrs{}, nil, err
	}
	defer f.Close()
	return readAttrs(f, key)
}

// attrsOf returns the attributes stored under key in fd, the open file that
// fi describes.
func attrsOf(fd int, key string, fi fs.FileInfo) (localAttrs, error) {
	var attrs localAttrs
	if !fi.Mode().IsRegular() {
		return attrs, errNoObject // a folder is not an object
	}
	raw, err := getAttr(fd, attrName)
	switch {
	case err == nil:
		if err := attrs.decode(raw, key); err != nil {
			return attrs, fmt.Errorf("read attributes: %w", err)
		}
	case errors.Is(err, errNoAttr):
		// A file copied in by hand: derive what can be derived.
		attrs.ContentType = cmp.Or(typeByExtension(key), "application/octet-stream")
		attrs.ETag = fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size())
	default:
		return attrs, fmt.Errorf("read attributes: %w", plainErr(err))
	}
	return attrs, nil
}

func (a localAttrs) info(key string, fi fs.FileInfo) Info {
	return Info{
		Key:                key,
		Size:               fi.Size(),
		ContentType:        a.ContentType,
		ContentDisposition: a.ContentDisposition,
		CacheControl:       a.CacheControl,
		ETag:               a.ETag,
		ModTime:            fi.ModTime().UTC().Truncate(time.Second), // as S3 keeps it
		Metadata:           a.Metadata,
	}
}

// Get opens the object under key; errors.Is(err, fs.ErrNotExist) when there is none.
func (l *Local) Get(ctx context.Context, key string) (*Reader, error) {
	r, err := l.getRange(ctx, key, 0, -1)
	return r, wrapErr("get", key, err)
}

// GetRange opens length bytes of the object under key from offset; length < 0
// reads to the end, and a range past the end yields what exists.
func (l *Local) GetRange(ctx context.Context, key string, offset, length int64) (*Reader, error) {
	r, err := l.getRange(ctx, key, offset, length)
	return r, wrapErr("get range", key, err)
}

func (l *Local) getRange(ctx context.Context, key string, offset, length int64) (*Reader, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: negative offset %d", fs.ErrInvalid, offset)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, attrs, fi, err := l.open(key)
	if err != nil {
		return nil, err
	}
	info := attrs.info(key, fi)
	remaining := max(info.Size-offset, 0)
	if length >= 0 {
		remaining = min(remaining, length)
	}
	// Objects are replaced by rename, never written in place, so the size
	// fstat gave is final: stopping there spares the read that finds the end.
	body := io.NewSectionReader(f, min(offset, info.Size), remaining)
	return &Reader{body: &fileBody{ctx: ctx, r: body, f: f}, info: info}, nil
}

// fileBody makes reading a file honour the context of the Get that opened it,
// as reading a network body does.
type fileBody struct {
	ctx context.Context
	r   io.Reader
	f   *os.File
}

func (b *fileBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	return b.r.Read(p)
}

func (b *fileBody) Close() error { return b.f.Close() }

// Stat describes the object under key; errors.Is(err, fs.ErrNotExist) when there is none.
func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, wrapErr("stat", key, err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, wrapErr("stat", key, err)
	}
	info, err := l.describe(key)
	return info, wrapErr("stat", key, err)
}

// Delete removes the object under key, and the folders it leaves empty.
// Deleting a missing key is not an error.
func (l *Local) Delete(ctx context.Context, key string) error {
	return wrapErr("delete", key, l.delete(ctx, key))
}

func (l *Local) delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := l.root.Lstat(key)
	if err != nil {
		if noSuchPath(err) {
			return nil
		}
		return plainErr(err)
	}
	if st.IsDir() {
		return nil // a folder of other objects, not an object
	}
	if err := l.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return plainErr(err)
	}
	return plainErr(l.settle(path.Dir(key)))
}

// settle is called once an entry of the folder dir has been removed. It
// prunes the folders left empty and syncs the folder that lost an entry
// last, so that the removal survives a crash: a folder whose removal is
// durable cannot bring back what it held.
func (l *Local) settle(dir string) error {
	changed := l.prune(dir)
	for {
		err := l.syncFolder(l.root, changed, changed)
		if !noSuchPath(err) || changed == "." {
			return err
		}
		// Another call removed it meanwhile, and may not have synced the
		// folder above, nor have done so yet: this one does.
		changed = path.Dir(changed)
	}
}

// prune removes dir and the folders above it as they become empty, as S3
// has no empty folders; it stops at the first that still holds something,
// which it returns (dir itself when dir still holds something).
// A symbolic link is never removed, though Remove would unlink one whatever
// it leads to.
func (l *Local) prune(dir string) (kept string) {
	for ; dir != "."; dir = path.Dir(dir) {
		if st, err := l.root.Lstat(dir); err != nil || !st.IsDir() || l.root.Remove(dir) != nil {
			return dir
		}
	}
	return "."
}

// Copy copies the object src to dst with its attributes, replacing dst
// atomically as Put does.
func (l *Local) Copy(ctx context.Context, dst, src string) (Info, error) {
	if err := ValidateKey(src); err != nil {
		return Info{}, wrapErr("copy", src, err)
	}
	if err := ValidateKey(dst); err != nil {
		return Info{}, wrapErr("copy", dst, err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, wrapErr("copy", src, err)
	}
	if dst == src {
		// As on S3, where copying an object onto itself unchanged is a no-op.
		info, err := l.describe(src)
		return info, wrapErr("copy", src, err)
	}
	f, attrs, _, err := l.open(src)
	if err != nil {
		return Info{}, wrapErr("copy", src, err)
	}
	defer f.Close()
	// Unwrapped, the *os.File lets the kernel copy (copy_file_range, reflinks).
	out, err := l.write(ctx, dst, f, attrs)
	return out, wrapErr("copy", dst, err)
}

// URL returns BaseURL followed by the escaped key. It does no I/O.
func (l *Local) URL(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", wrapErr("url", key, err)
	}
	return joinURL(l.baseURL, key), nil
}

// Cleanup removes the temporary files that processes killed in the middle
// of a Put left behind, and returns how many it removed. A temporary file
// that a running Put still writes is locked, and left alone.
func (l *Local) Cleanup(ctx context.Context) (removed int, err error) {
	err = fs.WalkDir(l.root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			if noSuchPath(err) {
				return nil // a folder a Delete pruned meanwhile
			}
			return plainErr(err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), tempMarker) {
			return nil
		}
		f, err := l.root.Open(name)
		if err != nil {
			return nil // gone already
		}
		defer f.Close()
		if lockFile(f, false) != nil {
			return nil // a live Put holds it
		}
		if l.root.Remove(name) == nil {
			removed++
		}
		return nil
	})
	return removed, wrapErr("cleanup", ".", err)
}

// writerOnly hides (*os.File).ReadFrom, whose fallback would copy through a
// fresh 32 KiB buffer instead of the pooled one.
type writerOnly struct{ io.Writer }

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyData copies src into f: file to file in the kernel (copy_file_range,
// reflinks), anything else through a pooled buffer.
func copyData(f *os.File, src io.Reader) (int64, error) {
	if _, ok := src.(*os.File); ok {
		return io.Copy(f, src)
	}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	return io.CopyBuffer(writerOnly{f}, src, *buf)
}

// plainErr drops the file name from a *fs.PathError: the name of a
// temporary file, or of the root, says nothing useful about the object.
func plainErr(err error) error {
	if errors.As(err, new(*bodyError)) {
		return err // the body's error, which names what the caller knows
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}

// newETag returns a random ETag. 64 bits tell versions of one object apart
// as well as a hash would, and keep the attributes small (see encode).
func newETag() string { return `"` + randomHex(8) + `"` }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

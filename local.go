package storage

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
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
	// unset disables SignedURL. As a [Secret], it is never shown.
	SigningKey Secret
	// MaxUploads bounds the uploads (signed PUTs and form posts) that the
	// Handler takes at once, each of which holds a connection, a temporary
	// file and its descriptor; beyond it the Handler answers 503 with
	// Retry-After before reading the body. 0 means 64.
	MaxUploads int
	// UploadStallTimeout is how long the Handler waits for the next bytes
	// of an upload before it drops the upload, storing nothing and removing
	// its temporary file. 0 means 30 seconds.
	UploadStallTimeout time.Duration
	// Logger receives, at Debug, the attribute mode NewLocal chose and
	// each file Cleanup removed, and at Warn a temporary file that a
	// failed Put could not remove (Cleanup takes it later). nil logs
	// nothing. Nothing logged holds a secret or an object's content.
	Logger *slog.Logger `json:"-"`
}

// Local stores objects as files under one directory: the object "a/b.png" is
// the file <dir>/a/b.png. Its attributes (content type, disposition, cache
// control, metadata and ETag) live in the same file, so that one rename
// replaces data and attributes together, in one of two places that NewLocal
// chooses and [Local.Attributes] names:
//
//   - "extended attributes": an extended attribute of the file, where the
//     file system keeps user extended attributes (ext4, XFS, Btrfs, ZFS,
//     tmpfs on Linux 6.6 or later, APFS, UFS and ZFS on FreeBSD). The file
//     holds the object's bytes and nothing else, so it can be served or
//     backed up as it is (keeping the attributes needs cp -a or rsync -aX),
//     and the Handler sends it straight from the file (sendfile).
//   - "file headers": a header at the start of the file, before the
//     object's bytes, on file systems without them (NFS before 4.2, SMB,
//     vfat, exFAT, ramfs, older tmpfs) and on Windows. It costs a Put one
//     small write more (the header again, with the ETag, the MD5 of the
//     data, once known) and no sync more, and a Stat one read of the
//     file's first bytes;
//     but the files are no longer the objects' bytes to other programs, and
//     the Handler copies through a buffer instead of sendfile. A file
//     .orga-storage\mode (a name no key can have; on Windows U+F05C stands
//     for the backslash) in the directory records
//     this mode, so that the directory keeps it when reopened or copied.
//
// Reads accept both forms whatever the mode, and a file without either, as
// copied in by hand, gets attributes derived from its name.
//
// Put writes a temporary file beside the target, syncs it, renames it into
// place and syncs the directory: when Put returns, the object survives a
// crash, and a failed, cancelled or interrupted Put leaves the old object
// intact. Delete and DeletePrefix sync the folders they change, so that a
// deleted object does not come back after a crash either. Temporary files
// have names no key can have, so List never shows them; a process killed
// mid-Put leaves one behind, which Cleanup removes. Windows cannot sync a
// folder: there a crash leaves each rename done or undone, as NTFS journals
// them, but may undo a Put that returned just before it. A Put over an
// object that a reader holds open replaces it on NTFS (Windows 10 1607 and
// later rename POSIX-style), but fails with "Access denied" on FAT32 and
// exFAT, which cannot: the old object stays whole, and the caller may try
// again once the reader is done.
//
// On Windows, a key with a segment that Windows cannot keep as a file name
// fails before any I/O with an error wrapping [ErrInvalidKey] that says why:
// a segment holding one of <>:"|?* or U+F05C (which Local keeps for its own
// files there), ending with a dot or a space (which Windows drops, so that
// "a." would be "a"), or a device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9,
// CONIN$, CONOUT$), with or without an extension. Such keys are not mapped
// to other names: a directory keeps every object under its own key, and
// moves between systems as it is. Elsewhere Local takes them, as S3 does;
// [ValidateKey] checks the rules every backend shares only.
//
// On a file system that takes names differing only in case for one (macOS's
// APFS as formatted by default, NTFS and FAT on Windows, casefold folders on
// Linux), which NewLocal finds by a probe and [Local.Caseless] reports, keys
// still differ by case, as on S3, but two of them cannot both be stored: a
// Put whose key's path is on disk under a name differing from it only in
// case (or Unicode normalization), such as "Events/1/logo.png" beside
// "events/1/logo.png", fails with an error wrapping [fs.ErrExist], and Get,
// Stat and Delete of such a key find no object rather than the other's.
// Keys are not mapped to other names: the directory stays the objects'
// files under their keys, readable by any program and copied as it is.
//
// Files are written through an [os.Root] and read through openat2 with
// RESOLVE_BENEATH (the os.Root where the kernel lacks it, and on other
// systems), so no key and no symbolic link inside the directory reaches a
// file outside it. Local is safe for concurrent use, also by several
// processes sharing the directory.
//
// The directory may hold files that no Put made (a shared volume, a tar or
// rsync restore, an operator's mistake): symbolic links, named pipes,
// sockets, devices, and files with more than one hard link, which may be
// files outside the directory. Local follows no symbolic link, even one
// that stays inside the directory, and opens no such file: List skips them,
// and Get, Stat, Copy and the Handler refuse them promptly (a pipe's open
// does not wait for a writer) with an error wrapping [fs.ErrInvalid] that
// says what the file is; the Handler answers 404. Put replaces one at its
// key's path by its rename, which replaces a link, not what it leads to,
// and Delete removes one there.
type Local struct {
	root       *os.Root
	files      beneath // opens objects for reading in one system call
	dir        string
	baseURL    string
	signingKey Secret
	uploads    chan struct{}    // a slot per upload the Handler takes at once
	stall      time.Duration    // see LocalOptions.UploadStallTimeout
	log        *slog.Logger     // never nil: see LocalOptions.Logger
	mode       attrMode         // where Put keeps attributes
	caseless   bool             // see Caseless
	caseMu     sync.Mutex       // see lockCase
	synced     func(dir string) // tests only: called after each folder sync

	// makingFolders counts the mkdirAll calls in progress: see createTemp.
	makingFolders atomic.Int32
}

var (
	_ Storage       = (*Local)(nil)
	_ PrefixDeleter = (*Local)(nil)
)

// NewLocal returns a Local storing objects under dir, which it creates if
// missing, with attributes in extended attributes where dir's file system
// keeps them and in file headers elsewhere (see [Local]). It fails when dir
// cannot be created, when its file system fails to set an extended
// attribute for another reason than lacking them (a full disk, say), and
// when dir records an attribute mode this build does not know. A dir this
// process may not write to (a read-only mount, say) is accepted: reads work,
// and writes fail with the filesystem's error, such as [fs.ErrPermission] or
// EROFS. Refused with an error wrapping [fs.ErrInvalid] are a dir that is
// the root of the file system or a system directory such as /etc or /usr
// (on Windows a drive's root or C:\Windows), whose files Local would serve;
// a SigningKey shorter than 32 bytes; a BaseURL that is neither a path
// starting with "/" nor an http or https URL, or that has a query or a
// fragment; and a negative MaxUploads or UploadStallTimeout.
func NewLocal(dir string, opts *LocalOptions) (*Local, error) {
	if opts == nil {
		opts = &LocalOptions{}
	}
	if n := len(opts.SigningKey.reveal()); n > 0 && n < minSigningKeyLen {
		return nil, fmt.Errorf("storage: local signing key: %w: %d bytes long; use at least %d random bytes", fs.ErrInvalid, n, minSigningKeyLen)
	}
	if opts.MaxUploads < 0 || opts.UploadStallTimeout < 0 {
		return nil, fmt.Errorf("storage: local: %w: negative MaxUploads (%d) or UploadStallTimeout (%s)", fs.ErrInvalid, opts.MaxUploads, opts.UploadStallTimeout)
	}
	if opts.BaseURL != "" {
		if err := checkBaseURL("base URL", opts.BaseURL, true); err != nil {
			return nil, fmt.Errorf("storage: local: %w", err)
		}
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		// MkdirAll would say so in the system's words, and Windows's are
		// "Path not found".
		return nil, fmt.Errorf("storage: local directory: %s is not a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: local directory: %w", err)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if err := checkOwnDir(dir); err != nil {
		return nil, fmt.Errorf("storage: local directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: local directory: %w", err)
	}
	l := &Local{root: root, files: newBeneath(root, dir), dir: dir, baseURL: cmp.Or(opts.BaseURL, "/static/media/"), signingKey: opts.SigningKey,
		uploads: make(chan struct{}, cmp.Or(opts.MaxUploads, 64)), stall: cmp.Or(opts.UploadStallTimeout, 30*time.Second),
		log: orDiscard(opts.Logger)}
	if err := l.chooseAttrMode(); err != nil {
		l.Close()
		return nil, fmt.Errorf("storage: local directory %s: %w", dir, err)
	}
	if l.caseless, err = l.probeCase(); err != nil {
		l.Close()
		return nil, fmt.Errorf("storage: local directory %s: %w", dir, err)
	}
	l.log.Debug("local: opened the directory", "dir", dir, "attributes", l.mode.String(), "caseless", l.caseless)
	return l, nil
}

// String describes the Local without its signing key.
func (l *Local) String() string { return description(l.view()) }

// MarshalJSON encodes the description of the Local, without its signing key.
func (l *Local) MarshalJSON() ([]byte, error) { return json.Marshal(l.view()) }

type localView struct {
	Dir, BaseURL, Attributes string
	Caseless                 bool
	SigningKey               Secret
}

func (l *Local) view() localView {
	return localView{l.dir, l.baseURL, l.mode.String(), l.caseless, l.signingKey}
}

// CheckKey reports whether l can store an object under key, without any
// I/O: the error wraps [ErrInvalidKey] for a key [ValidateKey] refuses, and
// on Windows for one that Windows cannot keep as a file name (see [Local]).
func (l *Local) CheckKey(key string) error { return checkLocalKey(key) }

// Close releases the directory. The Local must not be used afterwards.
func (l *Local) Close() error {
	l.files.close()
	return l.root.Close()
}

// Dir returns the absolute path of the directory holding the objects.
func (l *Local) Dir() string { return l.dir }

// BaseURL returns what URL puts before an escaped key, e.g. "/static/media/".
func (l *Local) BaseURL() string { return l.baseURL }

// Attributes says where Put keeps the objects' attributes: "extended
// attributes" or "file headers". See [Local].
func (l *Local) Attributes() string { return l.mode.String() }

// open opens the object under key, with its attributes.
func (l *Local) open(key string) (*os.File, localAttrs, fs.FileInfo, error) {
	if err := checkLocalKey(key); err != nil {
		return nil, localAttrs{}, nil, err
	}
	f, err := l.files.open(key)
	if err != nil {
		return nil, localAttrs{}, nil, openErr(err)
	}
	attrs, fi, err := readAttrs(l.mode, f, key)
	if err == nil {
		err = l.checkCaseForRead(key)
	}
	if err != nil {
		f.Close()
		return nil, localAttrs{}, nil, err
	}
	return f, attrs, fi, nil
}

// describe returns the Info of the object under key, a valid key. Stat and
// List need no reader, so the file is not opened as an *os.File.
func (l *Local) describe(key string) (Info, error) {
	attrs, fi, err := l.files.describe(l.mode, key)
	if err != nil {
		return Info{}, openErr(err)
	}
	return attrs.info(key, fi), nil
}

// stat is describe for a key that no listing gave, whose path may be on
// disk under another name (see [Local.Caseless]).
func (l *Local) stat(key string) (Info, error) {
	info, err := l.describe(key)
	if err == nil {
		err = l.checkCaseForRead(key)
	}
	return info, err
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
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) || errors.Is(err, syscall.ENAMETOOLONG)
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
	if err := checkLocalKey(key); err != nil {
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
	body := io.NewSectionReader(f, attrs.dataStart+min(offset, info.Size), remaining)
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
	if err := checkLocalKey(key); err != nil {
		return Info{}, wrapErr("stat", key, err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, wrapErr("stat", key, err)
	}
	info, err := l.stat(key)
	return info, wrapErr("stat", key, err)
}

// Delete removes the object under key, and the folders it leaves empty.
// Deleting a missing key is not an error. Delete never acts through a
// symbolic link: a key below a linked folder names no object, and Delete
// leaves it. A file at key's own path that no Put made (see [Local]) is
// removed as an object's would be, as Put would replace it: removing a name
// neither opens nor follows it.
func (l *Local) Delete(ctx context.Context, key string) error {
	return wrapErr("delete", key, l.delete(ctx, key))
}

func (l *Local) delete(ctx context.Context, key string) error {
	if err := checkLocalKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Opened without following a link: a key under a linked folder names
	// no object, as List shows none there.
	folder, err := openFolder(l.root, path.Dir(key))
	if err != nil {
		if noSuchPath(err) || isForeign(err) {
			return nil
		}
		return plainErr(err)
	}
	removed, err := l.removeObject(folder, key)
	// Closed first: where a delete waits for the last handle (Windows
	// without POSIX deletes, on FAT32, say), an open folder cannot go.
	folder.Close()
	if !removed || err != nil {
		return err
	}
	return plainErr(l.settle(path.Dir(key)))
}

// removeObject removes the object under key from folder, the folder that
// holds it, reporting whether there was one.
func (l *Local) removeObject(folder *os.Root, key string) (bool, error) {
	name := path.Base(key)
	st, err := folder.Lstat(name)
	if err != nil {
		if noSuchPath(err) {
			return false, nil
		}
		return false, plainErr(err)
	}
	if st.IsDir() {
		return false, nil // a folder of other objects, not an object
	}
	if err := l.checkCaseForRead(key); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil // another key's object
		}
		return false, err
	}
	// Whatever else is there goes, as a Put would replace it: removing a
	// name neither opens nor follows what it names.
	if err := folder.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, plainErr(err)
	}
	return true, nil
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
	if err := checkLocalKey(src); err != nil {
		return Info{}, wrapErr("copy", src, err)
	}
	if err := checkLocalKey(dst); err != nil {
		return Info{}, wrapErr("copy", dst, err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, wrapErr("copy", src, err)
	}
	if dst == src {
		// As on S3, where copying an object onto itself unchanged is a no-op.
		info, err := l.stat(src)
		return info, wrapErr("copy", src, err)
	}
	f, attrs, _, err := l.open(src)
	if err != nil {
		return Info{}, wrapErr("copy", src, err)
	}
	defer f.Close()
	if _, err := f.Seek(attrs.dataStart, io.SeekStart); err != nil {
		return Info{}, wrapErr("copy", src, plainErr(err))
	}
	// Unwrapped, the *os.File lets the kernel copy (copy_file_range, reflinks).
	out, err := l.write(ctx, dst, f, attrs, nil)
	return out, wrapErr("copy", dst, err)
}

// URL returns BaseURL followed by the escaped key. It does no I/O.
func (l *Local) URL(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", wrapErr("url", key, err)
	}
	return joinURL(l.baseURL, key), nil
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

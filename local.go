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
	BaseURL string // what URL puts before the escaped key; "" means "/static/media/"
	// SigningKey signs URLs and forms: at least 32 random bytes; unset, they
	// cannot be signed.
	SigningKey Secret
	// MaxUploads bounds the uploads the Handler takes at once (each holds a
	// connection and a temporary file); 0 means 64.
	MaxUploads int
	// UploadStallTimeout is how long an upload may send nothing before the
	// Handler drops it; 0 means 30 seconds.
	UploadStallTimeout time.Duration
	// Logger, when set, gets at Debug the mode NewLocal chose and the files
	// Cleanup removed, at Warn a temporary file a failed Put left. It is
	// never given a secret or an object's content.
	Logger *slog.Logger `json:"-"`
}

// Local stores objects as files under one directory: the object "a/b.png" is
// the file <dir>/a/b.png. Its attributes live in the file, so that one rename
// replaces data and attributes together: in an extended attribute where the
// file system keeps them (ext4, XFS, Btrfs, ZFS, APFS, UFS, tmpfs since Linux
// 6.6; cp -a or rsync -aX keeps them), else in a header before the bytes (NFS
// before 4.2, SMB, FAT, Windows), as [Local.Attributes] says. Files copied in
// by hand get attributes derived from their names.
//
// A Put that returned survives a crash (files and folders are synced; Windows
// cannot sync folders, so there a crash may undo the last Puts); a failed or
// killed Put leaves the old object whole and at worst a temporary file, which
// List never shows and [Local.Cleanup] removes. On FAT and exFAT, a Put over
// an object a reader holds open fails with "Access denied".
//
// Files are reached through an [os.Root] (and openat2 RESOLVE_BENEATH on
// Linux), so no key and no symbolic link leads outside the directory. Files no
// Put made (links, pipes, devices, files with other hard links) are never
// followed or opened: List skips them, Get, Stat and Copy fail with
// [fs.ErrInvalid] saying what they are (see [Local.ForeignFiles]).
//
// On Windows, a key segment that cannot be a file name there (holding
// <>:"|?*, ending in a dot or space, or a device name such as CON or LPT1.txt)
// fails with [ErrInvalidKey]. On a case-insensitive file system
// ([Local.Caseless]) keys still differ by case, but a Put beside a path
// differing only in case or Unicode normalization fails with [fs.ErrExist].
//
// Local is safe for concurrent use, also by several processes.
type Local struct {
	root       *os.Root
	files      beneath // opens objects for reading in one system call
	dir        string
	baseURL    string
	signingKey Secret
	// signingKeyName is what an error tells the user to set for signing:
	// the option, or the variable of a Local from FromEnv.
	signingKeyName string
	uploads        chan struct{}    // a slot per upload the Handler takes at once
	stall          time.Duration    // see LocalOptions.UploadStallTimeout
	log            *slog.Logger     // never nil: see LocalOptions.Logger
	mode           attrMode         // where Put keeps attributes
	caseless       bool             // see Caseless
	caseMu         sync.Mutex       // see lockCase
	synced         func(dir string) // tests only: called after each folder sync

	// makingFolders counts the mkdirAll calls in progress: see createTemp.
	makingFolders atomic.Int32
}

var (
	_ Storage       = (*Local)(nil)
	_ PrefixDeleter = (*Local)(nil)
)

// NewLocal returns a Local storing objects under dir, creating it if missing.
// It fails when dir cannot be created or probed (a full disk, say) or records
// an attribute mode this build does not know, and with [fs.ErrInvalid] for a
// dir that is a file system's root or a system directory (/etc, C:\Windows),
// whose files Local would serve, and for invalid options: a SigningKey under 32
// bytes, a negative limit, a BaseURL that is not a path starting with "/" or an
// http(s) URL without query or fragment. A read-only dir is accepted: then
// writes fail.
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
	l := &Local{root: root, files: newBeneath(root, dir), dir: dir, baseURL: cmp.Or(opts.BaseURL, "/static/media/"), signingKey: opts.SigningKey, signingKeyName: "LocalOptions.SigningKey",
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

// CheckKey reports, without I/O, whether l can store an object under key: on
// Windows some valid keys cannot be file names (see Local).
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

// Attributes names where Put keeps attributes: "extended attributes" or "file
// headers" (see Local).
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

// Get opens the object under key.
func (l *Local) Get(ctx context.Context, key string) (*Reader, error) {
	r, err := l.getRange(ctx, key, 0, -1)
	return r, wrapErr("get", key, err)
}

// GetRange opens length bytes of the object from offset (see [Storage]).
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

// Stat describes the object under key.
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

// Delete removes the object under key, and the folders it leaves empty. It acts
// through no symbolic link, and removes a file no Put made at key's own path.
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

// Copy copies src to dst with its attributes, replacing dst atomically.
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

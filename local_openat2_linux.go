package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"time"

	"golang.org/x/sys/unix"
)

// beneath opens files below the Local's directory in one system call each:
// openat2 with RESOLVE_BENEATH makes the kernel refuse any path, symbolic
// links included, that would lead out of the directory, which os.Root checks
// by opening the path one folder at a time. Where openat2 is missing
// (Linux < 5.6) it falls back to the os.Root.
type beneath struct {
	root *os.Root
	fd   int // the directory, opened with O_PATH; -1 for the fallback
}

func newBeneath(root *os.Root, dir string) beneath {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return beneath{root: root, fd: -1}
	}
	b := beneath{root: root, fd: fd}
	f, _, err := b.openat2(".")
	if err != nil {
		// No openat2 (ENOSYS), or a seccomp filter that refuses it.
		unix.Close(fd)
		return beneath{root: root, fd: -1}
	}
	f.Close()
	return b
}

// open opens name, a path relative to the directory, for reading.
func (b beneath) open(name string) (*os.File, error) {
	if b.fd < 0 {
		return openInRoot(b.root, name)
	}
	f, _, err := b.openat2(name)
	if errors.Is(err, unix.EAGAIN) {
		// The kernel could not rule out a concurrent rename racing the
		// lookup; os.Root can.
		return openInRoot(b.root, name)
	}
	return f, err
}

func (b beneath) openat2(name string) (*os.File, *unix.Stat_t, error) {
	fd, st, err := b.openat2fd(name)
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fd), name), st, nil
}

// beneathHow resolves no symbolic link, in the folders or at the end: the
// kernel refuses the path with ELOOP instead.
const beneathHow = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS

// openat2fd opens name, a folder or an object's file, for reading, and
// returns its descriptor and what fstat says of it. A file no Put made is
// refused, and only a device may be opened on the way to refusing it.
func (b beneath) openat2fd(name string) (int, *unix.Stat_t, error) {
	// Looked at first: the open of a device may act on it (rewind a tape,
	// start a watchdog), and no object is one.
	var st unix.Stat_t
	if err := unix.Fstatat(b.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return -1, nil, &os.PathError{Op: "lstat", Path: name, Err: err}
	}
	if foreignStat(&st) {
		return -1, nil, b.foreign(name)
	}
	// Not blocking, should a named pipe have replaced the file meanwhile.
	fd, err := unix.Openat2(b.fd, name, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOFOLLOW | unix.O_NOCTTY,
		Resolve: beneathHow,
	})
	if err != nil {
		return -1, nil, openat2Err(name, err)
	}
	// What was opened may be another file than what was looked at: a Put
	// replaces files by rename.
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, nil, &os.PathError{Op: "fstat", Path: name, Err: err}
	}
	if foreignStat(&st) {
		unix.Close(fd)
		return -1, nil, checkForeign(statInfo{name: path.Base(name), st: &st}, nil)
	}
	return fd, &st, nil
}

// foreignStat reports whether st describes a file no Put made.
func foreignStat(st *unix.Stat_t) bool {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return false
	case unix.S_IFREG:
		return st.Nlink > 1
	}
	return true
}

// foreign returns the error for name, which an lstat took for a file no Put
// made. The lstat followed any link in the folders, perhaps out of the
// directory: what it saw is told only once an O_PATH open, which opens no
// device and waits on no pipe, has found the same beneath the directory.
func (b beneath) foreign(name string) error {
	fd, err := unix.Openat2(b.fd, name, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: beneathHow,
	})
	if err != nil {
		return openat2Err(name, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: name, Err: err}
	}
	if err := checkForeign(statInfo{name: path.Base(name), st: &st}, nil); err != nil {
		return err
	}
	// Replaced by an object's file meanwhile, as a Put does: not a file to
	// refuse.
	return &os.PathError{Op: "open", Path: name, Err: unix.EAGAIN}
}

// openat2Err returns the error for an openat2 of name that failed with err.
func openat2Err(name string, err error) error {
	switch {
	case errors.Is(err, unix.EXDEV):
		return &os.PathError{Op: "open", Path: name, Err: errEscapes}
	case errors.Is(err, unix.ELOOP):
		// A link in the folders: one at the end is refused before.
		return linkedFolder
	}
	return &os.PathError{Op: "open", Path: name, Err: err}
}

// describe returns the attributes of the object under key and a description
// of its file. It keeps the descriptor to itself: an *os.File would cost
// every Stat, and every object List yields, one more system call (os.NewFile
// asks the kernel whether the descriptor is non-blocking).
func (b beneath) describe(mode attrMode, key string) (localAttrs, fs.FileInfo, error) {
	if b.fd < 0 {
		return describeInRoot(mode, b.root, key)
	}
	fd, st, err := b.openat2fd(key)
	if errors.Is(err, unix.EAGAIN) { // see open
		return describeInRoot(mode, b.root, key)
	}
	if err != nil {
		return localAttrs{}, nil, err
	}
	defer unix.Close(fd)
	fi := statInfo{name: path.Base(key), st: st}
	attrs, err := attrsOf(mode, fd, fdReader(fd), key, fi)
	return attrs, fi, err
}

// fdReader reads a file by its descriptor, for the header of describe's.
type fdReader int

func (fd fdReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := unix.Pread(int(fd), p, off)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// statInfo is the fs.FileInfo of an fstat.
type statInfo struct {
	name string
	st   *unix.Stat_t
}

func (fi statInfo) Name() string       { return fi.name }
func (fi statInfo) Size() int64        { return fi.st.Size }
func (fi statInfo) ModTime() time.Time { return time.Unix(fi.st.Mtim.Unix()) }
func (fi statInfo) IsDir() bool        { return fi.Mode().IsDir() }
func (fi statInfo) Sys() any           { return fi.st }

func (fi statInfo) Mode() fs.FileMode {
	mode := fs.FileMode(fi.st.Mode & 0o777)
	switch fi.st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	default:
		mode |= fs.ModeIrregular // neither an object nor a folder
	}
	return mode
}

// errEscapes reports a symbolic link that leads out of the directory: no
// object has that key.
var errEscapes = fmt.Errorf("%w: path escapes from the directory", fs.ErrNotExist)

func (b beneath) close() {
	if b.fd >= 0 {
		unix.Close(b.fd)
	}
}

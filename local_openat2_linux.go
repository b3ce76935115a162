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
	f, err := b.openat2(".")
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
		return b.root.Open(name)
	}
	f, err := b.openat2(name)
	if errors.Is(err, unix.EAGAIN) {
		// The kernel could not rule out a concurrent rename racing the
		// lookup; os.Root can.
		return b.root.Open(name)
	}
	return f, err
}

func (b beneath) openat2(name string) (*os.File, error) {
	fd, err := b.openat2fd(name)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func (b beneath) openat2fd(name string) (int, error) {
	fd, err := unix.Openat2(b.fd, name, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.EXDEV) {
		return -1, &os.PathError{Op: "open", Path: name, Err: errEscapes}
	}
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return fd, nil
}

// describe returns the attributes of the object under key and a description
// of its file. It keeps the descriptor to itself: an *os.File would cost
// every Stat, and every object List yields, one more system call (os.NewFile
// asks the kernel whether the descriptor is non-blocking).
func (b beneath) describe(mode attrMode, key string) (localAttrs, fs.FileInfo, error) {
	if b.fd < 0 {
		return describeInRoot(mode, b.root, key)
	}
	fd, err := b.openat2fd(key)
	if errors.Is(err, unix.EAGAIN) { // see open
		return describeInRoot(mode, b.root, key)
	}
	if err != nil {
		return localAttrs{}, nil, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return localAttrs{}, nil, err
	}
	fi := statInfo{name: path.Base(key), st: &st}
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

package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// The directory may hold files that no Put made: a shared volume, a tar or
// rsync restore, an operator's mistake. Local reads none of them. It never
// follows a symbolic link, never opens a named pipe (whose open would wait
// for a writer, holding an OS thread), a socket or a device (whose open may
// act on it), and never reads a file with a second hard link: Put never
// makes one, and the other link may be outside the directory. List skips
// such files; Get, Stat, Copy and the Handler refuse them with a
// *foreignFile error.

// foreignFile reports a file that no Put made at a key's path, or a
// symbolic link on the way to it. It matches [fs.ErrInvalid]: the key is
// valid, the file is not one Local reads; the Handler answers 404.
type foreignFile struct{ what string }

func (e *foreignFile) Error() string {
	return fmt.Sprintf("%v: on local disk %s, which no Put makes and Local does not use", fs.ErrInvalid, e.what)
}

func (e *foreignFile) Unwrap() error { return fs.ErrInvalid }

// isForeign reports whether err is a *foreignFile.
func isForeign(err error) bool { return errors.As(err, new(*foreignFile)) }

// linkedFolder reports a symbolic link where a key's path has a folder.
var linkedFolder = &foreignFile{"a folder on its path is a symbolic link"}

// foreignKind returns what the file fi describes is when it is one no Put
// made, such as "a named pipe (FIFO)", or "" for a regular file with one
// link or a folder. f is the open file fi describes, or nil: Windows tells
// the links of an open file only.
func foreignKind(fi fs.FileInfo, f *os.File) string {
	mode := fi.Mode()
	switch {
	case mode.IsDir():
		return ""
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeDevice != 0:
		return "a device"
	case !mode.IsRegular():
		return "not a regular file"
	}
	if n := linkCount(fi, f); n > 1 {
		return fmt.Sprintf("a file with %d hard links", n)
	}
	return ""
}

// checkForeign returns a *foreignFile when fi describes a file no Put made.
func checkForeign(fi fs.FileInfo, f *os.File) error {
	if what := foreignKind(fi, f); what != "" {
		return &foreignFile{"it is " + what}
	}
	return nil
}

// ForeignFile is a file in a Local's directory that no Put made.
type ForeignFile struct {
	Path string // slash-separated, relative to the directory
	What string // what it is, such as "a named pipe (FIFO)" or "a file with 2 hard links"
}

// ForeignFiles yields the files no Put made (see Local; hard links are not
// detected on Windows), opening and following none. An error reading a folder is
// yielded and the walk goes on; the context's error ends it.
func (l *Local) ForeignFiles(ctx context.Context) iter.Seq2[ForeignFile, error] {
	return func(yield func(ForeignFile, error) bool) {
		fs.WalkDir(l.root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
			if err == nil {
				err = ctx.Err()
			}
			if err != nil {
				if noSuchPath(err) {
					return nil // pruned meanwhile
				}
				if !yield(ForeignFile{}, wrapErr("foreign files", ".", plainErr(err))) || ctx.Err() != nil {
					return fs.SkipAll
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			fi, err := d.Info() // an lstat
			if err != nil {
				return nil // gone meanwhile
			}
			if what := foreignKind(fi, nil); what != "" && !yield(ForeignFile{Path: name, What: what}, nil) {
				return fs.SkipAll
			}
			return nil
		})
	}
}

// openFolder opens the folder dir of root without following a symbolic
// link, which os.Root would do when the link stays inside it. The caller
// closes the folder.
func openFolder(root *os.Root, dir string) (*os.Root, error) {
	if dir == "." {
		return root.OpenRoot(".")
	}
	folder := root
	for seg := range strings.SplitSeq(dir, "/") {
		sub, err := openSubfolder(folder, seg)
		if folder != root {
			folder.Close()
		}
		if err != nil {
			return nil, err
		}
		folder = sub
	}
	return folder, nil
}

// openSubfolder opens the folder name of folder, and nothing else: it looks
// before it opens, and checks after that it opened what it looked at, as
// OpenRoot follows a link. A folder that a Delete prunes and a Put makes
// again meanwhile is looked at again.
func openSubfolder(folder *os.Root, name string) (*os.Root, error) {
	for attempt := 0; ; attempt++ {
		st, err := folder.Lstat(name)
		if err != nil {
			return nil, err
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return nil, linkedFolder
		}
		if !st.IsDir() {
			return nil, &fs.PathError{Op: "openat", Path: name, Err: errNotDir}
		}
		sub, err := folder.OpenRoot(name)
		if err != nil {
			return nil, err
		}
		now, err := sub.Stat(".")
		if err == nil && sameFile(st, now) {
			return sub, nil
		}
		sub.Close()
		if err != nil {
			return nil, err
		}
		if attempt == 2 {
			return nil, &fs.PathError{Op: "openat", Path: name, Err: fs.ErrNotExist}
		}
	}
}

// openInRoot opens name, an object's file or a folder below root, for
// reading without following a symbolic link, and refuses a file no Put
// made before opening it: this is how reads go where openat2 cannot.
func openInRoot(root *os.Root, name string) (*os.File, error) {
	folder := root
	if dir := path.Dir(name); dir != "." {
		var err error
		if folder, err = openFolder(root, dir); err != nil {
			return nil, err
		}
		defer folder.Close()
	}
	base := path.Base(name)
	st, err := folder.Lstat(base)
	if err != nil {
		return nil, err
	}
	if err := checkForeign(st, nil); err != nil {
		return nil, err
	}
	// Not blocking, should a named pipe have replaced the file meanwhile:
	// the check below refuses it then.
	f, err := folder.OpenFile(base, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, err
	}
	// What was opened may be another file than what was looked at: a Put
	// replaces files by rename.
	fi, err := f.Stat()
	if err == nil {
		err = checkForeign(fi, f)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkOwnDir refuses dir, an absolute path, when it, or the directory it
// leads to, is the root of the file system or a system directory: Local
// serves every file below its directory that looks like an object, and the
// Handler of one run as root in / would serve /etc/shadow. A home directory
// is not refused, though its dot files are below it: where a developer
// keeps files is theirs to choose.
func checkOwnDir(dir string) error {
	candidates := []string{filepath.Clean(dir)}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		candidates = append(candidates, real)
	}
	for _, d := range candidates {
		if what := systemDir(d); what != "" {
			return fmt.Errorf("%w: %s is %s, and Local serves the files below its directory: give it a folder of its own, such as %s", fs.ErrInvalid, dir, what, exampleDir)
		}
	}
	return nil
}

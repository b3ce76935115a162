package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
)

// Case-insensitive file systems (APFS and HFS+ as macOS formats them, NTFS
// and FAT on Windows, ext4 and tmpfs folders with casefold) take "Logo.png"
// and "logo.png" for one name, while keys, as on S3, differ by case. On
// such a directory Local checks that each part of a key's path is on disk
// under that very name, which a lookup cannot tell (it finds the file under
// either name) and a read of the folder can. A Put whose key differs only
// in case, or in Unicode normalization, from a name already there fails
// with fs.ErrExist; a read, Stat or Delete of such a key finds no object.

// caseLockFile, in the directory's top folder, serializes the check and the
// rename of Puts on a case-insensitive directory, across processes too: two
// Puts of "A" and "a" must not both find the name free and both rename.
const caseLockFile = ".orga-storage" + nameMark + "case-lock"

// probeCase reports whether the directory's file system takes names that
// differ in case for one: it makes a file with a lower-case name and looks
// it up in upper case. Where it may not write, it looks up the names already
// there in another case; a read-only directory holding no name with a
// letter in it is taken for case-sensitive, which costs nothing.
func (l *Local) probeCase() (bool, error) {
	f, name, err := createTempIn(l.root)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return l.probeCaseReadOnly()
		}
		return false, plainErr(err)
	}
	defer l.root.Remove(name)
	defer f.Close()
	return l.sameName(name, strings.ToUpper(name))
}

func (l *Local) probeCaseReadOnly() (bool, error) {
	d, err := l.root.Open(".")
	if err != nil {
		return false, plainErr(err)
	}
	defer d.Close()
	names, err := d.Readdirnames(256)
	if err != nil && err != io.EOF {
		return false, plainErr(err)
	}
	for _, name := range names {
		if other := swapCase(name); other != name {
			return l.sameName(name, other)
		}
	}
	return false, nil
}

// sameName reports whether the other name leads to the file that name, the
// name of a file in the top folder, does.
func (l *Local) sameName(name, other string) (bool, error) {
	want, err := l.root.Lstat(name)
	if err != nil {
		return false, plainErr(err)
	}
	got, err := l.root.Lstat(other)
	if err != nil {
		return false, nil
	}
	return os.SameFile(want, got), nil
}

// swapCase returns name with its lower-case letters in upper case, or, when
// it has none, its upper-case letters in lower case.
func swapCase(name string) string {
	if up := strings.ToUpper(name); up != name {
		return up
	}
	return strings.ToLower(name)
}

// Caseless reports whether l's file system takes names differing only in case
// for one, as NewLocal found by a probe (see Local). Each call naming a key then
// also reads the folders on its path.
func (l *Local) Caseless() bool { return l.caseless }

// nameOnDisk returns the path under which the file system keeps key's path,
// or the first part of it that exists, when that path differs from key's
// (in case, or in Unicode normalization); "" when it does not, when nothing
// of key's path exists, and always on a case-sensitive directory.
func (l *Local) nameOnDisk(key string) (string, error) {
	if !l.caseless || key == "." {
		return "", nil
	}
	for end := 0; end < len(key); {
		next := strings.IndexByte(key[end+1:], '/')
		if next < 0 {
			end = len(key)
		} else {
			end += 1 + next
		}
		p := key[:end]
		if _, err := l.root.Lstat(p); err != nil {
			if noSuchPath(err) {
				return "", nil // nothing there, under any name
			}
			return "", plainErr(err)
		}
		found, other, err := l.findName(path.Dir(p), path.Base(p))
		if err != nil {
			return "", err
		}
		if !found {
			return path.Join(path.Dir(p), other), nil
		}
	}
	return "", nil
}

// findName reads the folder dir for the entry name. Not found, it returns
// the entry equal to name but for case, the one the file system most likely
// took for name; "?" when none is (a folding beyond case, such as Unicode
// normalization), or when a Delete removed it meanwhile.
func (l *Local) findName(dir, name string) (found bool, other string, err error) {
	d, err := l.root.Open(dir)
	if err != nil {
		if noSuchPath(err) {
			return false, "?", nil
		}
		return false, "", plainErr(err)
	}
	defer d.Close()
	other = "?"
	for {
		names, err := d.Readdirnames(256)
		for _, n := range names {
			switch {
			case n == name:
				return true, "", nil
			case strings.EqualFold(n, name):
				other = n
			}
		}
		if err == io.EOF || len(names) == 0 {
			return false, other, nil
		}
		if err != nil {
			return false, "", plainErr(err)
		}
	}
}

// checkCaseForPut returns an error matching fs.ErrExist when key's path is
// on disk under another name, which this file system takes for the same.
func (l *Local) checkCaseForPut(key string) error {
	onDisk, err := l.nameOnDisk(key)
	if err == nil && onDisk != "" {
		err = fmt.Errorf("%w: on local disk %q is already %q, which this case-insensitive file system takes for the same name", fs.ErrExist, key, onDisk)
	}
	return err
}

// checkCaseForRead returns an error matching fs.ErrNotExist when key's path
// is on disk under another name: the file found is another key's object.
func (l *Local) checkCaseForRead(key string) error {
	onDisk, err := l.nameOnDisk(key)
	if err == nil && onDisk != "" {
		err = errNoObject
	}
	return err
}

// lockCase takes the lock under which a Put on a case-insensitive directory
// checks its key's path and renames its file into place; the returned
// function releases it. On a case-sensitive one it does nothing.
func (l *Local) lockCase() (unlock func(), err error) {
	if !l.caseless {
		return func() {}, nil
	}
	l.caseMu.Lock()
	f, err := l.root.OpenFile(caseLockFile, os.O_RDWR|os.O_CREATE|openNonblock, 0o644)
	if err == nil {
		if err = lockFile(f, true); err != nil {
			f.Close()
		}
	}
	if err != nil {
		l.caseMu.Unlock()
		return nil, fmt.Errorf("lock %s: %w", caseLockFile, plainErr(err))
	}
	return func() {
		f.Close() // releases the file lock
		l.caseMu.Unlock()
	}, nil
}

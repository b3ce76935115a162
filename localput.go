package storage

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
)

// tempMarker starts the name of every temporary file. No key segment holds
// nameMark, so no object is ever mistaken for a temporary file or the
// reverse.
const tempMarker = ".put" + nameMark

// Put stores r under key. See [Local] for what it guarantees.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, opts *PutOptions) (Info, error) {
	info, err := l.put(ctx, key, r, opts)
	return info, wrapErr("put", key, err)
}

func (l *Local) put(ctx context.Context, key string, r io.Reader, opts *PutOptions) (Info, error) {
	if err := checkLocalKey(key); err != nil {
		return Info{}, err
	}
	prepared, r, err := PreparePut(ctx, key, r, opts)
	if err != nil {
		return Info{}, err
	}
	// The ETag is the MD5 of the content, as S3's is for an object uploaded
	// in one request, so that Sync can tell identical objects on either
	// side apart from changed ones without reading them.
	sum := md5.New()
	return l.write(ctx, key, io.TeeReader(r, sum), localAttrs{
		ContentType:        prepared.ContentType,
		ContentDisposition: prepared.ContentDisposition,
		CacheControl:       prepared.CacheControl,
		Metadata:           prepared.Metadata,
		Private:            prepared.Private,
	}, func() string { return `"` + hex.EncodeToString(sum.Sum(nil)) + `"` })
}

// etagRoom holds the place of an MD5 ETag in a header written before the
// data: it encodes to as many bytes as any MD5 does (see encode).
const etagRoom = `"00000000000000000000000000000000"`

// write stores src under key with attrs, atomically and durably. When etag
// is not nil, the object's ETag is what it returns once src is read.
func (l *Local) write(ctx context.Context, key string, src io.Reader, attrs localAttrs, etag func() string) (Info, error) {
	// Before any folder is made or byte read: the check is made again,
	// under the lock, just before the rename.
	if err := l.checkCaseForPut(key); err != nil {
		return Info{}, err
	}
	dir := path.Dir(key)
	// Every os.Root call walks its path one folder at a time, so the folder
	// is opened once, and the temporary file, the rename and the sync are
	// done relative to it rather than each walking the key again.
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
			if err := folder.Remove(tmp); err != nil {
				l.log.WarnContext(ctx, "local: a failed Put left its temporary file; Cleanup removes it", "key", key, "file", path.Join(dir, tmp), "error", err)
			}
			// Folders made for this object would be left empty, and an
			// empty folder "a" keeps the key "a" from being stored.
			l.prune(dir)
		}
	}()

	attrs.dataStart = 0
	if l.mode == inHeader {
		// In the file the rename publishes: no reader can pair these
		// attributes with other bytes. An MD5 ETag is known once the data
		// is written: its room is kept, and the header written again then.
		if etag != nil {
			attrs.ETag = etagRoom
		}
		h := header(attrs.encode(key))
		if _, err := f.Write(h); err != nil {
			return Info{}, fmt.Errorf("keep attributes: %w", plainErr(err))
		}
		attrs.dataStart = int64(len(h))
	}
	if _, err := copyData(f, src); err != nil {
		return Info{}, plainErr(err)
	}
	if etag != nil {
		attrs.ETag = etag()
	}
	encoded := attrs.encode(key)
	switch l.mode {
	case inHeader:
		if etag == nil {
			break
		}
		h := header(encoded)
		if int64(len(h)) != attrs.dataStart {
			return Info{}, fmt.Errorf("keep attributes: the ETag %s does not fit the room kept for it", attrs.ETag)
		}
		if _, err := f.WriteAt(h, 0); err != nil {
			return Info{}, fmt.Errorf("keep attributes: %w", plainErr(err))
		}
	case inXattr:
		if err := setAttr(f, attrName, encoded); err != nil {
			if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.E2BIG) {
				// ext4 keeps an attribute in one block: about 4 KB.
				return Info{}, fmt.Errorf("keep attributes of %d bytes (the disk is full, or its file system holds no attributes this large): %w", len(encoded), plainErr(err))
			}
			return Info{}, fmt.Errorf("keep attributes: %w", plainErr(err))
		}
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
	if err := l.rename(folder, tmp, key); err != nil {
		return Info{}, err
	}
	committed = true
	// The data and attributes are synced: a failing close loses nothing.
	f.Close()
	if err := l.syncFolder(folder, ".", dir); err != nil {
		return Info{}, plainErr(err)
	}
	return attrs.info(key, fi), nil
}

// rename renames the temporary file tmp in folder to key's name, on a
// case-insensitive directory under the lock and once key's path is checked.
func (l *Local) rename(folder *os.Root, tmp, key string) error {
	unlock, err := l.lockCase()
	if err != nil {
		return err
	}
	defer unlock()
	if err := l.checkCaseForPut(key); err != nil {
		return err
	}
	name := path.Base(key)
	err = folder.Rename(tmp, name)
	if st, serr := folder.Lstat(name); err != nil && serr == nil && st.IsDir() {
		// An empty folder, which a crash can leave behind, gives way to
		// the object; Remove takes no folder that holds anything.
		if folder.Remove(name) != nil {
			return fmt.Errorf("%w: on local disk %q is a folder holding other objects", fs.ErrExist, key)
		}
		err = folder.Rename(tmp, name)
	}
	return plainErr(err)
}

// createTemp opens the folder dir, creating it if needed, and creates a
// temporary file in it, locked so that Cleanup can tell a live Put's file
// from a dead one's. The caller closes the folder.
func (l *Local) createTemp(ctx context.Context, dir string) (folder *os.Root, f *os.File, name string, err error) {
	for attempt := 0; ; attempt++ {
		// Not through a link: a Put under a linked folder would store an
		// object that List does not show.
		folder, err = openFolder(l.root, dir)
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
		if !errors.Is(err, fs.ErrNotExist) {
			if l.notFolder(dir) {
				return nil, nil, "", errObjectInPath(dir)
			}
			return nil, nil, "", plainErr(err)
		}
		if attempt == maxFolderAttempts {
			return nil, nil, "", errPruned(dir)
		}
		if err := l.mkdirAll(dir); err != nil {
			return nil, nil, "", err
		}
	}
}

// notFolder reports whether dir, or a folder on its path, is a file. It
// explains errors that do not say: OpenRoot's are not all errNotDir, and
// Windows answers ERROR_PATH_NOT_FOUND both for a missing folder and for a
// file in the path. So it looks at the deepest part of dir that exists.
func (l *Local) notFolder(dir string) bool {
	for d := dir; d != "."; d = path.Dir(d) {
		if st, err := l.root.Stat(d); err == nil {
			return !st.IsDir()
		}
	}
	return false
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

// errPruned reports a Put that gave up making the folder dir, which
// concurrent Deletes kept pruning. It does not match [fs.ErrNotExist]: that
// is for missing objects, and nothing is missing.
func errPruned(dir string) error {
	return fmt.Errorf("folder %q was removed by concurrent deletes %d times while being made; try again", dir, maxFolderAttempts)
}

// errObjectInPath reports a Put whose folder dir cannot be made because an
// object is where a folder on its path would be.
func errObjectInPath(dir string) error {
	return fmt.Errorf("%w: on local disk a part of %q is an object, not a folder", fs.ErrExist, dir)
}

// mkdirAll creates dir one folder at a time, and syncs the folder holding
// each folder it makes, so that a new object's path survives a crash as the
// object does. Whether it made a folder is what Mkdir says, not what an
// earlier look said: a Delete may prune one meanwhile. When one prunes the
// folder above the next, or the folder just made and the one holding it
// before that is synced, it starts again from the top.
func (l *Local) mkdirAll(dir string) error {
	l.makingFolders.Add(1)
	defer l.makingFolders.Add(-1)
	segments := strings.Split(dir, "/")
	for attempt, i := 0, 0; i < len(segments); i++ {
		d := strings.Join(segments[:i+1], "/")
		err := l.root.Mkdir(d, 0o755)
		if err == nil {
			// A folder just made is empty, so a Delete pruning its own
			// key's folders may remove it, and the one above, at once.
			err = l.syncFolder(l.root, path.Dir(d), path.Dir(d))
			if err == nil {
				continue
			}
			if !errors.Is(err, fs.ErrNotExist) || i == 0 {
				return plainErr(err)
			}
		}
		switch {
		case errors.Is(err, fs.ErrExist):
			// Made already, or an object: the next level, or the
			// caller's OpenRoot, tells which.
		case errors.Is(err, errNotDir) || errors.Is(err, fs.ErrNotExist) && l.notFolder(path.Dir(d)):
			// Windows says "path not found" for a file in the path too.
			return errObjectInPath(dir)
		case errors.Is(err, fs.ErrNotExist) && i > 0:
			if attempt++; attempt > maxFolderAttempts {
				return errPruned(dir)
			}
			i = -1 // pruned above: from the top again
		default:
			return plainErr(err)
		}
	}
	return nil
}

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
// added to it or removed from it survive a crash. Where no folder can be
// synced (Windows: see foldersSync) it does nothing.
func (l *Local) syncFolder(root *os.Root, name, dir string) error {
	if !foldersSync {
		return nil
	}
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

// writerOnly hides (*os.File).ReadFrom, whose fallback would copy through a
// fresh 32 KiB buffer instead of the pooled one.
type writerOnly struct{ io.Writer }

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

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

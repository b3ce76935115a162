package storage

import (
	"context"
	"errors"
	"io/fs"
	"iter"
	"os"
	"slices"
	"strings"
)

// List yields the objects under prefix in key order, reading each folder as the
// walk reaches it.
func (l *Local) List(ctx context.Context, prefix string, opts *ListOptions) iter.Seq2[Info, error] {
	return l.list(ctx, prefix, opts, false)
}

// syncList is List with every object's Info whole, its attributes and
// Private included, read with the size and ETag: Sync then needs no Stat.
func (l *Local) syncList(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return l.list(ctx, prefix, nil, true)
}

func (l *Local) list(ctx context.Context, prefix string, opts *ListOptions, whole bool) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if err := ValidatePrefix(prefix); err != nil {
			yield(Info{}, wrapErr("list", prefix, err))
			return
		}
		w := &walker{l: l, ctx: ctx, prefix: prefix, yield: yield, whole: whole}
		if opts != nil {
			w.delimiter = opts.Delimiter
		}
		start := prefixFolder(prefix)
		if onDisk, err := l.nameOnDisk(start); err != nil || onDisk != "" {
			// Another name's folder: no key starts with prefix.
			if err != nil {
				yield(Info{}, wrapErr("list", prefix, err))
			}
			return
		}
		w.walk(start)
	}
}

// prefixFolder returns the folder holding every key that starts with
// prefix: the part before its last slash, or "." for none.
func prefixFolder(prefix string) string {
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		return prefix[:i]
	}
	return "."
}

// walker lists a folder tree in byte order of key.
type walker struct {
	l         *Local
	ctx       context.Context
	prefix    string
	delimiter string
	yield     func(Info, error) bool
	whole     bool   // yield each Info whole, not as S3 lists it
	lastGroup string // the grouped prefix yielded last, as members are adjacent
}

// walk yields the objects in dir and below; false means stop.
func (w *walker) walk(dir string) bool {
	if err := w.ctx.Err(); err != nil {
		w.yield(Info{}, wrapErr("list", w.prefix, err))
		return false
	}
	entries, err := w.l.readDir(dir)
	if err != nil {
		if noSuchPath(err) || isForeign(err) {
			return true // nothing under this prefix
		}
		return w.yield(Info{}, wrapErr("list", w.prefix, plainErr(err)))
	}
	for _, e := range entries {
		key := e.Name()
		if dir != "." {
			key = dir + "/" + key
		}
		isDir := e.IsDir()
		if !strings.HasPrefix(key, w.prefix) {
			continue
		}
		if group, ok := w.group(key, isDir); ok {
			if group == w.lastGroup {
				continue
			}
			if isDir && !w.l.holdsObject(key) {
				continue
			}
			w.lastGroup = group
			if !w.yield(Info{Key: group, IsDir: true}, nil) {
				return false
			}
			continue
		}
		if isDir {
			if !w.walk(key) {
				return false
			}
			continue
		}
		info, err := w.l.describe(key)
		if errors.Is(err, fs.ErrNotExist) || isForeign(err) {
			continue // deleted since the folder was read, or no Put made it
		}
		// S3's listings carry no more than this: code written against
		// Local must not come to rely on what S3 cannot list.
		if !w.whole {
			info = Info{Key: info.Key, Size: info.Size, ETag: info.ETag, ModTime: info.ModTime}
		}
		if err != nil {
			err = wrapErr("list", key, err)
		}
		if !w.yield(info, err) {
			return false
		}
	}
	return true
}

// group returns the grouped prefix that key (a folder when isDir) falls in,
// when every object at or below key shares it.
func (w *walker) group(key string, isDir bool) (string, bool) {
	if w.delimiter == "" {
		return "", false
	}
	rest := key[len(w.prefix):]
	if isDir {
		rest += "/"
	}
	i := strings.Index(rest, w.delimiter)
	if i < 0 {
		return "", false
	}
	return w.prefix + rest[:i+len(w.delimiter)], true
}

// readDir returns the entries of dir that can be objects or folders, sorted
// so that walking them yields keys in byte order: a folder "a" sorts as "a/",
// after "a-b" and before "a0".
func (l *Local) readDir(dir string) ([]fs.DirEntry, error) {
	d, err := l.files.open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := objectEntries(d)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int {
		return strings.Compare(sortName(a), sortName(b))
	})
	return entries, nil
}

// objectEntries returns the entries of the open folder d that can be
// objects or folders: temporary files, symbolic links and names no key can
// have are not.
func objectEntries(d *os.File) ([]fs.DirEntry, error) {
	entries, err := d.ReadDir(-1)
	return slices.DeleteFunc(entries, func(e fs.DirEntry) bool {
		return keyProblem(e.Name()) != "" || nameProblem(e.Name()) != "" || !(e.Type().IsRegular() || e.IsDir())
	}), err
}

func sortName(e fs.DirEntry) string {
	if e.IsDir() {
		return e.Name() + "/"
	}
	return e.Name()
}

// holdsObject reports whether the folder dir holds an object at any depth.
func (l *Local) holdsObject(dir string) bool {
	entries, err := l.readDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !e.IsDir() || l.holdsObject(dir+"/"+e.Name()) {
			return true
		}
	}
	return false
}

// DeletePrefix implements [PrefixDeleter], pruning the folders it empties and
// reading no attributes.
func (l *Local) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	n, err := l.deletePrefix(ctx, prefix)
	return n, wrapErr("delete prefix", prefix, err)
}

func (l *Local) deletePrefix(ctx context.Context, prefix string) (int, error) {
	if err := checkDeletePrefix(prefix); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	start := prefixFolder(prefix)
	if onDisk, err := l.nameOnDisk(start); err != nil || onDisk != "" {
		return 0, err // another name's folder: no key starts with prefix
	}
	folder, err := openFolder(l.root, start)
	if err != nil {
		if noSuchPath(err) || isForeign(err) || l.notFolder(start) {
			return 0, nil // nothing under this prefix
		}
		return 0, plainErr(err)
	}
	deleted, emptied, err := l.removeMatching(ctx, folder, start, prefix)
	folder.Close()
	if err == nil && emptied {
		err = plainErr(l.settle(start))
	}
	return deleted, err
}

// removeMatching deletes the objects in folder, which holds the keys under
// dir, whose keys start with prefix, and the folders it empties. When it
// leaves folder with other entries it syncs folder, so that the deletions
// survive a crash; when it empties folder the caller removes folder, and
// syncs the folder above instead.
func (l *Local) removeMatching(ctx context.Context, folder *os.Root, dir, prefix string) (deleted int, emptied bool, err error) {
	d, err := folder.Open(".")
	if err != nil {
		return 0, false, plainErr(err)
	}
	entries, err := objectEntries(d)
	d.Close()
	if err != nil {
		return 0, false, plainErr(err)
	}
	removed, kept := false, false
	defer func() {
		if removed && (kept || err != nil) {
			if serr := l.syncFolder(folder, ".", dir); err == nil && serr != nil {
				err = plainErr(serr)
			}
		}
	}()
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return deleted, false, err
		}
		key := e.Name()
		if dir != "." {
			key = dir + "/" + key
		}
		if !strings.HasPrefix(key, prefix) {
			kept = true
			continue
		}
		if !e.IsDir() {
			if err := folder.Remove(e.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return deleted, false, plainErr(err)
			}
			deleted++
			removed = true
			continue
		}
		sub, err := openSubfolder(folder, e.Name())
		if noSuchPath(err) {
			continue // pruned meanwhile by a Delete, which syncs what holds it
		}
		if isForeign(err) {
			kept = true // replaced by a link meanwhile, which is left alone
			continue
		}
		if err != nil {
			return deleted, false, plainErr(err)
		}
		n, subEmptied, err := l.removeMatching(ctx, sub, key, prefix)
		deleted += n
		switch {
		case err != nil:
		case !subEmptied:
			kept = true
		case removeFolder(folder, e.Name()):
			removed = true
		default:
			// Something arrived in the emptied folder meanwhile: it stays,
			// so it is the folder to sync.
			kept = true
			if n > 0 {
				err = plainErr(l.syncFolder(sub, ".", key))
			}
		}
		sub.Close()
		if err != nil {
			return deleted, false, err
		}
	}
	return deleted, !kept, nil
}

// removeFolder removes the empty folder name from folder, and reports
// whether it is gone, also when a concurrent Delete pruned it first.
func removeFolder(folder *os.Root, name string) bool {
	err := folder.Remove(name)
	return err == nil || noSuchPath(err)
}

package storage

import (
	"context"
	"io/fs"
	"os"
	"strings"
)

// Cleanup removes the temporary files that killed Puts left behind and returns
// how many. Those of running Puts are locked (flock, LockFileEx) and kept; where
// neither lock exists, Cleanup removes nothing.
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
		if !d.Type().IsRegular() || !strings.HasPrefix(d.Name(), tempMarker) {
			return nil // not a Put's file: a folder, or a file no Put made
		}
		// Not blocking, should a named pipe have replaced it meanwhile.
		f, err := l.root.OpenFile(name, os.O_RDONLY|openNonblock, 0)
		if err != nil {
			return nil // gone already
		}
		defer f.Close()
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		if lockFile(f, false) != nil {
			return nil // a live Put holds it
		}
		if l.root.Remove(name) == nil {
			removed++
			l.log.DebugContext(ctx, "local: removed a dead Put's temporary file", "file", name)
		}
		return nil
	})
	return removed, wrapErr("cleanup", ".", err)
}

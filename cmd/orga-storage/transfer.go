package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/orga-server/storage"
)

func runPut(ctx context.Context, a *app, args []string) error {
	flags := a.newFlags("put", `
Put uploads FILE, or stdin when FILE is "-", under KEY, replacing any object
there, and prints the object's URL. Readers see the old object or the new one
whole, never a part. A FILE that changes while it is read is not stored: put
fails and leaves any object under KEY as it was.

Without --content-type, the type comes from KEY's extension, else it is
sniffed from the first bytes.`)
	var opts storage.PutOptions
	flags.StringVar(&opts.ContentType, "content-type", "", "the object's Content-Type `type`, e.g. image/png (default: from KEY's extension, else sniffed)")
	flags.StringVar(&opts.ContentDisposition, "disposition", "", "its Content-Disposition `value`, e.g. 'attachment; filename=\"a.pdf\"'")
	flags.StringVar(&opts.CacheControl, "cache-control", "", "its Cache-Control `value`, e.g. 'public, max-age=31536000'")
	flags.Func("meta", "user metadata `name=value`; repeat for more", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return errors.New("want name=value")
		}
		if opts.Metadata == nil {
			opts.Metadata = make(map[string]string)
		}
		opts.Metadata[name] = value
		return nil
	})
	flags.BoolVar(&opts.Private, "private", false, "serve the object only through signed URLs, not its plain URL")
	pos, err := parseN(flags, args, 2, 2, "FILE and KEY")
	if err != nil {
		return err
	}
	file, key := pos[0], pos[1]
	// Before reading stdin: a bad key should not swallow a pipe.
	if err := storage.ValidateKey(key); err != nil {
		return fmt.Errorf("key %q: %w", key, err)
	}
	st, err := storage.FromEnv()
	if err != nil {
		return err
	}
	defer st.Close()

	var src io.Reader
	size := int64(-1)
	if file == "-" {
		src = a.stdin
		if f, ok := a.stdin.(*os.File); ok {
			size = regularSize(f)
		}
	} else {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			return fmt.Errorf("%s is a directory", file)
		case fi.Mode().IsRegular():
			src, size = &unchangingFile{f: f, name: file, before: fi, afterRead: a.fileRead}, fi.Size()
		default:
			// A FIFO or a device has no version to keep to.
			src = f
		}
	}
	body, done := a.meter(src, size, "put "+key)
	info, err := st.Put(ctx, key, body, &opts)
	done(err)
	if err != nil {
		return err
	}
	if file == "-" && a.progress {
		// Typed or piped in, the input has no size the user could see.
		fmt.Fprintf(a.stderr, "put %s: %s from stdin\n", key, humanSize(info.Size))
	}
	if opts.Private {
		// The plain URL answers 404 for a private object: print one that
		// works, and say for how long.
		u, err := st.SignedURL(ctx, key, nil)
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			fmt.Fprintf(a.stderr, "put %s: stored, private; no URL serves it until a signing key is set (%s)\n", key, message(err))
			return nil
		case err != nil:
			return fmt.Errorf("stored %q, private, but cannot sign a URL for it: %w", key, err)
		}
		fmt.Fprintln(a.stdout, u)
		if a.progress {
			fmt.Fprintf(a.stderr, "put %s: private; the URL above expires in 15 minutes (\"orga-storage sign --expires\" makes longer ones)\n", key)
		}
		return nil
	}
	u, err := st.URL(key)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, u)
	return nil
}

// unchangingFile reads a regular file and fails at its end if the file was
// changed meanwhile, say by a program still writing it: what was read may
// then mix versions, and the object would pass for the file.
type unchangingFile struct {
	f      *os.File
	name   string
	before fs.FileInfo // taken before the first read

	afterRead func() // app.fileRead
}

func (u *unchangingFile) Read(p []byte) (int, error) {
	n, err := u.f.Read(p)
	if u.afterRead != nil {
		u.afterRead()
	}
	if err != io.EOF {
		return n, err
	}
	after, err := u.f.Stat()
	if err != nil {
		return n, err
	}
	// The size tells a truncated or growing file; the times, a file
	// rewritten in place. The change time also tells one whose
	// modification time was set back, as by "touch -d" or rsync.
	if after.Size() != u.before.Size() || !after.ModTime().Equal(u.before.ModTime()) || !sameChangeTime(after, u.before) {
		return n, fmt.Errorf("%s changed while it was read; nothing was stored", u.name)
	}
	return n, io.EOF
}

// regularSize returns the size of f if it is a regular file, else -1 (a
// pipe or a terminal, whose size is not known in advance).
func regularSize(f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return -1
	}
	return fi.Size()
}

func runGet(ctx context.Context, a *app, args []string) error {
	flags := a.newFlags("get", `
Get downloads the object KEY to FILE, or to stdout when FILE is "-" or
missing. When FILE is a directory, the object goes into it under the last
segment of KEY. FILE is replaced only once the whole object has arrived and
is on disk, and keeps its permissions. A symbolic link FILE stays one: the
file it points to gets the object. A FIFO or a device, such as /dev/null, is
written to.`)
	pos, st, err := parseAndOpen(flags, args, 1, 2, "KEY and an optional FILE")
	if err != nil {
		return err
	}
	defer st.Close()
	key := pos[0]
	r, err := st.Get(ctx, key)
	if err != nil {
		return objectError(ctx, st, err, key)
	}
	defer r.Close()
	body, done := a.meter(r, r.Info().Size, "get "+key)

	var w io.Writer = a.stdout
	file := ""
	if len(pos) == 2 && pos[1] != "-" {
		file, w = pos[1], nil
		if fi, err := os.Stat(file); err == nil && fi.IsDir() {
			file = filepath.Join(file, path.Base(key))
		} else if err == nil {
			// FILE may name a stream the command writes to already, say
			// /dev/stdout under ">> log": replacing the file would lose
			// what the stream holds.
			w = stream(fi, a.stdout, a.stderr)
		}
	}
	if w != nil {
		_, err := io.Copy(w, body)
		done(err)
		return err
	}
	err = writeFile(ctx, file, body)
	done(err)
	return err
}

// stream returns the one of streams that is an *os.File open on the file
// fi, or nil.
func stream(fi fs.FileInfo, streams ...io.Writer) io.Writer {
	for _, w := range streams {
		if f, ok := w.(*os.File); ok {
			if sfi, err := f.Stat(); err == nil && os.SameFile(fi, sfi) {
				return w
			}
		}
	}
	return nil
}

// writeFile writes r to the file name, following symbolic links so that a
// link stays a link and its target gets the content.
//
// A regular file is written to a temporary file beside it, then renamed into
// place, so that a failed or interrupted download leaves any previous file
// whole and no partial one. The new file keeps the permissions of the file it
// replaces, lest a private file become readable by all; a file that did not
// exist gets the mode of any newly created file, 0666 less the umask.
//
// Anything else that exists, a FIFO or a device such as /dev/null, cannot be
// replaced without breaking whoever uses it, so it is written to directly.
func writeFile(ctx context.Context, name string, r io.Reader) error {
	fi, err := os.Stat(name)
	var target string
	perm := fs.FileMode(0o666)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return writeInto(ctx, name, r)
	case err == nil:
		target, err = filepath.EvalSymlinks(name)
		perm = fi.Mode().Perm()
	case errors.Is(err, fs.ErrNotExist):
		target, err = danglingTarget(name)
	}
	if err != nil {
		return err
	}

	f, err := createBeside(target, perm)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			// The temporary file's name would mean nothing to the user.
			return &fs.PathError{Op: "create", Path: name, Err: pe.Err}
		}
		return err
	}
	tmp := f.Name()
	if fi != nil {
		// The umask may have taken bits that the replaced file had.
		err = f.Chmod(perm)
	}
	if err == nil {
		_, err = io.Copy(f, r)
	}
	if err == nil {
		// Else a crash soon after the rename may leave FILE empty, the
		// old content gone and the new one never written.
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp, target)
	}
	if err != nil {
		os.Remove(tmp)
		return namedErr(err, tmp, name)
	}
	// The rename is durable once the directory is synced. FILE is whole in
	// place already, so a failure is reported but undoes nothing.
	return syncDir(filepath.Dir(target))
}

// namedErr returns err naming the file name where it names tmp, the
// temporary file standing for name, whose name would mean nothing to the
// user.
func namedErr(err error, tmp, name string) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe) && pe.Path == tmp:
		return &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
	case errors.As(err, &le) && le.Old == tmp:
		return &fs.PathError{Op: le.Op, Path: name, Err: le.Err}
	}
	return err
}

// maxLinks bounds the symbolic links danglingTarget follows, as the kernel
// does (40 on Linux), so that a loop of links ends in an error.
const maxLinks = 40

// danglingTarget returns the file that name, which does not exist, is to be
// created as. When name is a symbolic link to nothing, that is the file the
// link points to, as for a shell's "> name": the link keeps leading where it
// did, now to the download. Otherwise it is name.
func danglingTarget(name string) (string, error) {
	target := name
	for range maxLinks {
		dest, err := os.Readlink(target)
		if err != nil {
			// Not a link, or not there: the file to create, or to fail to.
			return target, nil
		}
		if !filepath.IsAbs(dest) {
			// Relative to the link's directory as the kernel resolves it,
			// which a lexical join gets wrong when ".." climbs out of a
			// linked directory.
			dir, err := filepath.EvalSymlinks(filepath.Dir(target))
			if err != nil {
				return "", err
			}
			dest = filepath.Join(dir, dest)
		}
		target = dest
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", name)
}

// createBeside creates a new file with a random name in the directory of
// name, for writing it before renaming it to name. Unlike os.CreateTemp,
// which makes the file private, it asks for perm and lets the kernel apply
// the umask.
func createBeside(name string, perm fs.FileMode) (*os.File, error) {
	dir, base := filepath.Split(name)
	for range 10000 {
		tmp := filepath.Join(dir, "."+base+"."+strconv.FormatUint(rand.Uint64(), 36)+".part")
		f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("creating a temporary file beside %s: all names tried exist", name)
}

// writeInto writes r into name, an existing file that is not a regular one,
// such as a FIFO or a device. Such files are neither created nor truncated.
func writeInto(ctx context.Context, name string, r io.Reader) error {
	// Opening a FIFO waits for a reader, in a call that an interrupt does
	// not end: wait for it aside, so that Ctrl-C still stops the download.
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		ch <- opened{f, err}
	}()
	var o opened
	select {
	case o = <-ch:
	case <-ctx.Done():
		// The open is left waiting; the command is about to exit.
		return ctx.Err()
	}
	if o.err != nil {
		return o.err
	}
	_, err := io.Copy(o.f, r)
	if closeErr := o.f.Close(); err == nil {
		err = closeErr
	}
	return err
}

func runCopy(ctx context.Context, a *app, args []string) error {
	flags := a.newFlags("cp", `
Cp copies the object SRC to DST inside the storage, with its content type and
metadata, server-side where the backend can, and prints DST's URL.`)
	pos, st, err := parseAndOpen(flags, args, 2, 2, "SRC and DST")
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Copy(ctx, pos[1], pos[0]); err != nil {
		return objectError(ctx, st, err, pos[0])
	}
	u, err := st.URL(pos[1])
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, u)
	return nil
}

// progressMin is the size from which a transfer shows a progress bar.
const progressMin = 4 << 20

// meter returns r counted by a progress bar on stderr, drawn once the
// transfer is known to exceed progressMin: at once when size says so, or once
// that many bytes have passed when the size is unknown (-1). done must be
// called with the transfer's outcome; it removes the bar. Without a terminal
// on stderr, meter returns r itself, which also keeps fast paths such as
// copying file to file in the kernel.
func (a *app) meter(r io.Reader, size int64, desc string) (body io.Reader, done func(error)) {
	if !a.progress || (size >= 0 && size <= progressMin) {
		return r, func(error) {}
	}
	m := &meter{r: r, line: statusLine{w: a.stderr}, size: size, desc: desc}
	if size > progressMin {
		// Drawn at once, which also starts its clock before the first byte.
		m.start()
	}
	return m, m.done
}

// meter draws one line on a terminal, rewritten in place: what a transfer
// needs is the count, the share done and the rate, not a library.
type meter struct {
	r           io.Reader
	line        statusLine
	size        int64 // -1 when unknown
	desc        string
	n           int64
	began, last time.Time // began is zero until the line is first drawn
}

func (m *meter) start() {
	m.began = time.Now()
	m.draw(m.began)
}

func (m *meter) draw(now time.Time) {
	m.last = now
	line := m.desc + "  " + humanSize(m.n)
	if m.size > 0 {
		line += fmt.Sprintf(" of %s (%d%%)", humanSize(m.size), m.n*100/m.size)
	}
	if elapsed := now.Sub(m.began).Seconds(); elapsed >= 0.5 {
		line += "  " + humanSize(int64(float64(m.n)/elapsed)) + "/s"
	}
	m.line.show(line)
}

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.n += int64(n)
	switch {
	case !m.began.IsZero():
		if now := time.Now(); now.Sub(m.last) >= 100*time.Millisecond {
			m.draw(now)
		}
	case m.n > progressMin:
		m.start()
	}
	return n, err
}

// done erases the line, leaving the terminal clean for what comes next.
func (m *meter) done(error) { m.line.clear() }

// statusLine is one line on a terminal, rewritten in place.
type statusLine struct {
	w     io.Writer
	drawn bool
}

// show replaces the line with text; "\x1b[K" erases what a longer line left.
func (l *statusLine) show(text string) {
	l.drawn = true
	fmt.Fprintf(l.w, "\r\x1b[K%s", text)
}

// clear erases the line, if drawn, leaving the terminal clean.
func (l *statusLine) clear() {
	if l.drawn {
		fmt.Fprint(l.w, "\r\x1b[K")
		l.drawn = false
	}
}

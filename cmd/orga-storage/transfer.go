package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/orga-server/storage"
	"github.com/schollz/progressbar/v3"
)

func runPut(ctx context.Context, a *app, args []string) error {
	flags := a.newFlags("put", `
Put uploads FILE, or stdin when FILE is "-", under KEY, replacing any object
there, and prints the object's URL. Readers see the old object or the new one
whole, never a part.

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
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return fmt.Errorf("%s is a directory", file)
		}
		src, size = f, regularSize(f)
	}
	body, done := a.meter(src, size, "put "+key)
	_, err = st.Put(ctx, key, body, &opts)
	done(err)
	if err != nil {
		return err
	}
	u, err := st.URL(key)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, u)
	return nil
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
segment of KEY. FILE is replaced only once the whole object has arrived.`)
	pos, st, err := parseAndOpen(flags, args, 1, 2, "KEY and an optional FILE")
	if err != nil {
		return err
	}
	key := pos[0]
	r, err := st.Get(ctx, key)
	if err != nil {
		return objectError(err, key)
	}
	defer r.Close()
	body, done := a.meter(r, r.Info().Size, "get "+key)

	if len(pos) == 1 || pos[1] == "-" {
		_, err := io.Copy(a.stdout, body)
		done(err)
		return err
	}
	file := pos[1]
	if fi, err := os.Stat(file); err == nil && fi.IsDir() {
		file = filepath.Join(file, path.Base(key))
	}
	err = writeFile(file, body)
	done(err)
	return err
}

// writeFile writes r to a temporary file beside name and renames it into
// place, so that a failed or interrupted download leaves any previous file
// whole and no partial one.
func writeFile(name string, r io.Reader) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.part")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = io.Copy(f, r)
	if err == nil {
		// CreateTemp makes the file private; a download gets the usual mode.
		err = f.Chmod(0o644)
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
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
	if _, err := st.Copy(ctx, pos[1], pos[0]); err != nil {
		return objectError(err, pos[0])
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
	m := &meter{r: r, w: a.stderr, size: size, desc: desc}
	if size > progressMin {
		// Drawn at once, which also starts its clock before the first byte.
		m.start()
	}
	return m, m.done
}

type meter struct {
	r    io.Reader
	w    io.Writer
	size int64
	desc string
	n    int64
	bar  *progressbar.ProgressBar
}

func (m *meter) start() {
	m.bar = progressbar.NewOptions64(m.size,
		progressbar.OptionSetWriter(m.w),
		progressbar.OptionSetDescription(m.desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionClearOnFinish(),
	)
	m.bar.Add64(m.n)
}

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.n += int64(n)
	if m.bar != nil {
		m.bar.Add(n)
	} else if m.n > progressMin {
		m.start()
	}
	return n, err
}

func (m *meter) done(err error) {
	if m.bar == nil {
		return
	}
	if err == nil {
		m.bar.Finish()
		return
	}
	// Leave the line clean for the error message.
	m.bar.Clear()
	m.bar.Exit()
}

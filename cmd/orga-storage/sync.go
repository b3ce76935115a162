package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/orga-server/storage"
)

func runSync(ctx context.Context, a *app, args []string) error {
	flags := a.newFlags("sync", `
Sync makes every object under PREFIX (default: all) in SRC exist in DST with
the same content and attributes (content type, disposition, cache control,
metadata, private), copying only what differs: run it again after a failure
or an interruption and it picks up where it stopped, counting what is there
already as skipped. Each of SRC and DST is one of

  local:DIR     the local storage directory DIR, as STORAGE_DIR names it
  s3://BUCKET   the S3 bucket BUCKET, with the credentials and settings of
                the S3 variables (AWS_KEY, AWS_SECRET, AWS_ENDPOINT_URL...)
                that "orga-storage check" shows; BUCKET_NAME is not needed

Keys are the same on both sides. An object in DST holds the old content or
the new one whole at every moment, also when sync is interrupted. Nothing in
DST is removed unless --delete is given, and then only objects under PREFIX
that SRC lacks, once SRC has been listed to its end.

On a terminal a progress line shows the objects and bytes done, the rate and
the time left; at the end one line sums up what was done. Objects that fail
are listed on stderr, each with its key and the side that failed, and the
exit status is then 1.`)
	dryRun := flags.Bool("dry-run", false, "report what would be copied and deleted, change nothing")
	del := flags.Bool("delete", false, "also delete objects under PREFIX in DST that SRC lacks")
	concurrency := flags.Int("concurrency", 0, "objects copied at once, `N`; 0: a measured default")
	pos, err := parseN(flags, args, 2, 3, "SRC, DST and an optional PREFIX")
	if err != nil {
		return err
	}
	if *concurrency < 0 {
		return usagef("--concurrency must be 0 (the default) or more, not %d", *concurrency)
	}
	var prefix string
	if len(pos) == 3 {
		prefix = pos[2]
	}
	if err := storage.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("prefix %q: %w", prefix, err)
	}
	srcLoc, err := parseLocation(pos[0])
	if err != nil {
		return &usageError{"SRC " + err.Error()}
	}
	dstLoc, err := parseLocation(pos[1])
	if err != nil {
		return &usageError{"DST " + err.Error()}
	}
	if srcLoc.dir == dstLoc.dir && srcLoc.bucket == dstLoc.bucket {
		return usagef("SRC and DST are both %s", pos[0])
	}
	src, err := srcLoc.open(true)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := dstLoc.open(false)
	if err != nil {
		return err
	}
	defer dst.Close()

	var last storage.SyncProgress
	bar := &syncBar{line: statusLine{w: a.stderr}, draw: a.progress}
	res, err := storage.Sync(ctx, dst, src, prefix, &storage.SyncOptions{
		Concurrency: *concurrency,
		DryRun:      *dryRun,
		Delete:      *del,
		Progress: func(p storage.SyncProgress) {
			last = p
			bar.update(p)
		},
	})
	bar.done()
	for _, f := range res.Failed {
		fmt.Fprintf(a.stderr, "orga-storage sync: %s\n", strings.TrimPrefix(f.Error(), "storage: sync "))
	}
	fmt.Fprintln(a.stdout, syncSummary(res, last, *dryRun))
	var failed *storage.SyncError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &failed):
		// Listing failed or the sync was interrupted: main says which.
		return err
	case last.Failed > len(res.Failed):
		return fmt.Errorf("%d objects failed; the first %d are listed above", last.Failed, len(res.Failed))
	case len(res.Failed) == 1:
		return errors.New("1 object failed")
	}
	return fmt.Errorf("%d objects failed", len(res.Failed))
}

// location is a SRC or DST of sync.
type location struct {
	dir    string // local:DIR, as an absolute path
	bucket string // s3://BUCKET
	arg    string // as given
}

// parseLocation parses local:DIR or s3://BUCKET.
func parseLocation(arg string) (location, error) {
	const want = `local:DIR or s3://BUCKET`
	if dir, ok := strings.CutPrefix(arg, "local:"); ok {
		if dir == "" {
			return location{}, fmt.Errorf("%q names no directory; want %s", arg, want)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return location{}, fmt.Errorf("%q: %v", arg, err)
		}
		return location{dir: abs, arg: arg}, nil
	}
	if rest, ok := strings.CutPrefix(arg, "s3://"); ok {
		bucket, path, _ := strings.Cut(rest, "/")
		switch {
		case bucket == "":
			return location{}, fmt.Errorf("%q names no bucket; want %s", arg, want)
		case path != "":
			return location{}, fmt.Errorf("%q has a path after the bucket; keys are the same on both sides, so give the prefix as PREFIX, the third argument", arg)
		}
		return location{bucket: bucket, arg: arg}, nil
	}
	if scheme, _, ok := strings.Cut(arg, ":"); ok && !strings.ContainsAny(scheme, `/\`) && len(scheme) > 1 {
		return location{}, fmt.Errorf("%q: unknown scheme %q; want %s", arg, scheme+":", want)
	}
	return location{}, fmt.Errorf("%q is neither local:DIR nor s3://BUCKET (for a directory, say local:%s)", arg, arg)
}

// open returns the storage at l. A source directory must exist: one
// created empty for a misspelt name would have sync copy nothing, or with
// --delete delete everything.
func (l location) open(source bool) (interface {
	storage.Storage
	io.Closer
}, error) {
	if l.bucket != "" {
		s, err := storage.S3FromEnv(l.bucket)
		if err != nil {
			// Not s itself: a nil *S3 in the interface is no nil.
			return nil, err
		}
		return s, nil
	}
	if source {
		fi, err := os.Stat(l.dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("SRC %s: no directory %s", l.arg, l.dir)
		case err != nil:
			return nil, fmt.Errorf("SRC %s: %w", l.arg, err)
		case !fi.IsDir():
			return nil, fmt.Errorf("SRC %s: %s is not a directory", l.arg, l.dir)
		}
	}
	loc, err := storage.NewLocal(l.dir, nil)
	if err != nil {
		return nil, err
	}
	return loc, nil
}

// syncSummary is the line sync ends with.
func syncSummary(res storage.SyncResult, p storage.SyncProgress, dryRun bool) string {
	failed := max(p.Failed, len(res.Failed))
	elapsed := p.Elapsed.Round(time.Millisecond)
	if dryRun {
		return fmt.Sprintf("dry run, nothing changed: %d to copy (%s), %d skipped, %d to delete, %d failed, in %s",
			res.Copied, humanSize(res.Bytes), res.Skipped, res.Deleted, failed, elapsed)
	}
	return fmt.Sprintf("%d copied (%s), %d skipped, %d deleted, %d failed, in %s",
		res.Copied, humanSize(res.Bytes), res.Skipped, res.Deleted, failed, elapsed)
}

// syncBar draws sync's progress line on a terminal, as meter does for one
// transfer.
type syncBar struct {
	line statusLine
	draw bool // stderr is a terminal
}

func (b *syncBar) update(p storage.SyncProgress) {
	if b.draw {
		b.line.show(progressLine(p))
	}
}

// done erases the line, leaving the terminal clean for the summary.
func (b *syncBar) done() { b.line.clear() }

// progressLine describes p in one line: objects done of those listed ("+"
// while listing goes on), bytes copied, the rate and, once the listing is
// complete, the time left.
func progressLine(p storage.SyncProgress) string {
	total := fmt.Sprint(p.Listed)
	if p.Listing {
		total += "+"
	}
	line := fmt.Sprintf("sync  %d/%s objects  %s copied", p.Done(), total, humanSize(p.Bytes))
	if p.Deleted > 0 {
		line += fmt.Sprintf("  %d deleted", p.Deleted)
	}
	if p.Failed > 0 {
		line += fmt.Sprintf("  %d failed", p.Failed)
	}
	secs := p.Elapsed.Seconds()
	if secs < 0.5 {
		return line
	}
	line += fmt.Sprintf("  %s/s, %.0f objects/s", humanSize(int64(float64(p.Bytes)/secs)), float64(p.Done())/secs)
	if !p.Listing && p.Done() > 0 && p.Done() < p.Listed {
		// From the objects' rate: a rerun skips most, and a first run's
		// objects mix sizes, so that the bytes left tell less.
		left := time.Duration(float64(p.Elapsed) * float64(p.Listed-p.Done()) / float64(p.Done()))
		line += "  ETA " + left.Round(time.Second).String()
	}
	return line
}

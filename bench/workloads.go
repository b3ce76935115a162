package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/orga-server/storage"
)

// figure is one measured quantity: a table in the report.
type figure struct {
	Title string
	Kind  string // "S3" or "local"
	Unit  string
	Lower bool     // lower is better (times, memory)
	Ours  string   // the contender the ratios are taken against
	Names []string // contenders, in table order
	Vals  map[string][]float64
	Note  string
	// RoundTrip is the time a proxy added to every request, if any.
	RoundTrip time.Duration `json:",omitempty"`
}

func newFigure(title, kind, unit string, lower bool, names []string) *figure {
	f := &figure{Title: title, Kind: kind, Unit: unit, Lower: lower, Names: names, Vals: map[string][]float64{}}
	for _, n := range names {
		if ours(n) || strings.HasPrefix(n, "storage.") {
			f.Ours = n
			break
		}
	}
	return f
}

// bench holds what every workload needs.
type bench struct {
	ctx     context.Context
	opts    options
	env     env
	stores  map[string]store
	prefix  string // every S3 key of this run starts with it
	figures []*figure
}

// measure runs one workload for several rounds. Each round runs every
// contender once, starting one further along the list than the round
// before, so that drift (other processes, MinIO compacting, the page cache
// filling) hits all contenders alike.
func (b *bench) measure(f *figure, rounds int, run func(name string, round int) (float64, error)) error {
	log.Printf("%s (%s): %d rounds", f.Title, f.Kind, rounds)
	for r := range rounds {
		for i := range f.Names {
			name := f.Names[(i+r)%len(f.Names)]
			// Write back what the previous contender left dirty in the page
			// cache, so that no contender pays for another's writes.
			syscall.Sync()
			v, err := run(name, r)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", f.Title, name, err)
			}
			f.Vals[name] = append(f.Vals[name], v)
		}
	}
	for _, n := range f.Names {
		log.Printf("  %-40s %s", n, summary(f.Vals[n], f.Unit))
	}
	b.figures = append(b.figures, f)
	return nil
}

// slug turns a contender's name into a key segment.
func slug(name string) string {
	return strings.NewReplacer(" ", "-", ".", "-", "(", "", ")", "", "*", "", ",", "", "+", "").Replace(name)
}

func (b *bench) key(kind string, parts ...string) string {
	if kind == "local" {
		return path.Join(parts...) // every local contender has a folder of its own
	}
	return path.Join(append([]string{b.prefix}, parts...)...)
}

// parallel runs op(i) for i in [0, n) on conc goroutines.
func parallel(n, conc int, op func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// timing is what one timed run measured.
type timing struct {
	ops       int64
	wall, cpu time.Duration // cpu: the whole process's user and system time
}

func (t timing) perSecond() float64 { return float64(t.ops) / t.wall.Seconds() }

// timed runs op on conc goroutines for about d. A fixed duration, rather
// than a fixed count, keeps a slow contender from stretching the run.
func timed(conc int, d time.Duration, op func(i int) error) (timing, error) {
	var next, done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	cpuBefore, err := processCPU()
	if err != nil {
		return timing{}, err
	}
	start := time.Now()
	deadline := start.Add(d)
	for range conc {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := op(int(next.Add(1) - 1)); err != nil {
					errs <- err
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return timing{}, err
	}
	cpuAfter, err := processCPU()
	if err != nil {
		return timing{}, err
	}
	return timing{ops: done.Load(), wall: wall, cpu: cpuAfter - cpuBefore}, nil
}

// processCPU returns the user and system CPU time this process has used.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

const smallKeys = 256 // distinct 4 KiB objects per contender

// small measures 4 KiB put, get and stat at concurrency 1 and 16.
func (b *bench) small(kind string, names []string) error {
	payload := prngBytes(1, 4096)
	key := func(name string, i int) string {
		return b.key(kind, "small", slug(name), fmt.Sprintf("k%03d.bin", i%smallKeys))
	}
	// Every object exists before the first measured Get, and every
	// contender has warmed its connections.
	for _, n := range names {
		s := b.stores[n]
		if err := parallel(smallKeys, 16, func(i int) error {
			return s.Put(b.ctx, key(n, i), small(payload), int64(len(payload)))
		}); err != nil {
			return fmt.Errorf("small objects, %s: %w", n, err)
		}
	}
	ops := []struct {
		name string
		op   func(s store, name string, i int) error
	}{
		{"put", func(s store, n string, i int) error {
			return s.Put(b.ctx, key(n, i), small(payload), int64(len(payload)))
		}},
		{"get", func(s store, n string, i int) error {
			got, err := s.Get(b.ctx, key(n, i), int64(len(payload)))
			if err == nil && got != int64(len(payload)) {
				err = fmt.Errorf("got %d bytes, want %d", got, len(payload))
			}
			return err
		}},
		{"stat", func(s store, n string, i int) error { return s.Stat(b.ctx, key(n, i)) }},
	}
	for _, op := range ops {
		for _, conc := range []int{1, 16} {
			f := newFigure(fmt.Sprintf("4 KiB %s, concurrency %d", op.name, conc), kind, "ops/s", false, names)
			// At concurrency 1 the operations run one at a time, so the
			// process's CPU time per operation is the client's own work:
			// what a library adds to each request.
			var cpu *figure
			if conc == 1 {
				cpu = newFigure(fmt.Sprintf("4 KiB %s, concurrency 1: client CPU time per operation", op.name), kind, "µs", true, names)
				cpu.Note = cpuNote
			}
			err := b.measure(f, b.opts.SmallRounds, func(n string, _ int) (float64, error) {
				t, err := timed(conc, b.opts.OpTime, func(i int) error { return op.op(b.stores[n], n, i) })
				if err == nil && cpu != nil && t.ops > 0 {
					cpu.Vals[n] = append(cpu.Vals[n], float64(t.cpu.Microseconds())/float64(t.ops))
				}
				return t.perSecond(), err
			})
			if err != nil {
				return err
			}
			if cpu != nil {
				b.figures = append(b.figures, cpu)
			}
		}
	}
	return nil
}

const cpuNote = "The benchmark process's user and system CPU time over the round divided by the operations it ran, " +
	"measured with the concurrency-1 rounds above. It counts the library, the Go runtime (garbage collection " +
	"included) and, on loopback, part of the kernel's network work for both ends of each request, which is " +
	"about the same for every contender."

// large measures put and get of one object of size bytes, streamed from
// the PRNG with its size known.
func (b *bench) large(kind string, names []string, size int64, rounds int) error {
	label := sizeLabel(size)
	key := func(n string) string { return b.key(kind, "large", slug(n)+"-"+label+".bin") }
	put := newFigure(label+" put", kind, "MB/s", false, names)
	err := b.measure(put, rounds, func(n string, r int) (float64, error) {
		start := time.Now()
		if err := b.stores[n].Put(b.ctx, key(n), newPRNG(uint64(r), size), size); err != nil {
			return 0, err
		}
		return mbps(size, time.Since(start)), nil
	})
	if err != nil {
		return err
	}
	get := newFigure(label+" get", kind, "MB/s", false, names)
	err = b.measure(get, rounds, func(n string, _ int) (float64, error) {
		start := time.Now()
		got, err := b.stores[n].Get(b.ctx, key(n), size)
		if err == nil && got != size {
			err = fmt.Errorf("got %d bytes, want %d", got, size)
		}
		return mbps(size, time.Since(start)), err
	})
	if kind == "local" {
		get.Note = "Local reads come from the page cache: the objects were just written and fit in memory."
	}
	for _, n := range names { // free the disk for what follows
		b.stores[n].Delete(b.ctx, key(n))
	}
	return err
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

func sizeLabel(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// unknownSize uploads size bytes whose length the library is not told, each
// upload in a child process of this same program, so that the child's peak
// resident set size (getrusage's ru_maxrss, read by the parent when the child
// exits) is that contender's alone: the Go runtime, the client, its buffers.
func (b *bench) unknownSize(names []string, size int64, rounds int) error {
	label := sizeLabel(size)
	speed := newFigure(label+" upload of unknown size", "S3", "MB/s", false, names)
	mem := newFigure(label+" upload of unknown size: peak memory (RSS of the whole process)", "S3", "MiB", true, names)
	idle, err := b.child("", "", 0) // what a child costs before it uploads anything
	if err != nil {
		return err
	}
	mem.Note = fmt.Sprintf("Measured as the peak RSS (VmHWM) of a child process that opens the client and uploads one stream; "+
		"a child that opens this library's client and uploads nothing peaks at %.0f MiB.", idle.rssMiB)
	err = b.measure(speed, rounds, func(n string, _ int) (float64, error) {
		res, err := b.child(n, b.key("S3", "unknown", slug(n)+".bin"), size)
		if err != nil {
			return 0, err
		}
		mem.Vals[n] = append(mem.Vals[n], res.rssMiB)
		return mbps(size, res.elapsed), nil
	})
	if err != nil {
		return err
	}
	for _, n := range names {
		log.Printf("  %-40s %s", n, summary(mem.Vals[n], mem.Unit))
		b.stores[n].Delete(b.ctx, b.key("S3", "unknown", slug(n)+".bin"))
	}
	b.figures = append(b.figures, mem)
	return nil
}

type childResult struct {
	elapsed time.Duration
	rssMiB  float64
}

// child runs this program with -child; see runChild.
func (b *bench) child(name, key string, size int64) (childResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return childResult{}, err
	}
	cmd := exec.CommandContext(b.ctx, exe, "-child", name, "-child-key", key, "-child-size", strconv.FormatInt(size, 10))
	cmd.Env = append(os.Environ(), childEnv(b.env)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return childResult{}, fmt.Errorf("child %s: %w", name, err)
	}
	var ns, hwmKiB int64
	if _, err := fmt.Sscan(string(out), &ns, &hwmKiB); err != nil {
		return childResult{}, fmt.Errorf("child %s printed %q", name, out)
	}
	return childResult{elapsed: time.Duration(ns), rssMiB: float64(hwmKiB) / 1024}, nil
}

func childEnv(e env) []string {
	return []string{"BENCH_ENDPOINT=" + e.Endpoint, "BENCH_BUCKET=" + e.Bucket,
		"BENCH_ACCESS_KEY=" + e.AccessKey, "BENCH_SECRET_KEY=" + e.SecretKey, "BENCH_DIR=" + e.Dir}
}

// runChild is the child's side: open one contender, upload one stream of
// unknown size, print the nanoseconds it took and the peak RSS in KiB. With no contender it only
// opens this library's client, for the baseline.
func runChild(name, key string, size int64) error {
	e := env{Endpoint: os.Getenv("BENCH_ENDPOINT"), Bucket: os.Getenv("BENCH_BUCKET"),
		AccessKey: os.Getenv("BENCH_ACCESS_KEY"), SecretKey: os.Getenv("BENCH_SECRET_KEY"), Dir: os.Getenv("BENCH_DIR")}
	ctx := context.Background()
	if name == "" {
		if _, err := openStore(ctx, libS3, e); err != nil {
			return err
		}
		fmt.Println(0, peakRSSKiB())
		return nil
	}
	s, err := openStore(ctx, name, e)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := s.Put(ctx, key, newPRNG(7, size), -1); err != nil {
		return err
	}
	fmt.Println(int64(time.Since(start)), peakRSSKiB())
	return nil
}

// peakRSSKiB is this process's peak resident set size.
func peakRSSKiB() int64 {
	n, _ := strconv.ParseInt(strings.TrimSuffix(field("/proc/self/status", "VmHWM"), " kB"), 10, 64)
	return n
}

// populate stores n tiny objects under prefix, 100 to a folder, through s.
func (b *bench) populate(s store, prefix string, n int) error {
	body := []byte("x")
	return parallel(n, 16, func(i int) error {
		return s.Put(b.ctx, fmt.Sprintf("%s/d%03d/k%05d.bin", prefix, i/100, i), small(body), 1)
	})
}

// list times a List of n keys. The S3 contenders all list the same keys,
// stored once; each local contender lists a tree it stored itself, in its
// own format (fileblob keeps a sidecar file per object).
func (b *bench) list(kind string, names []string, n, rounds int) error {
	prefix := b.key(kind, "list")
	// S3: the same keys for every contender, stored once by this library.
	owners := names
	if kind == "S3" {
		owners = []string{libS3}
	}
	for _, name := range owners {
		log.Printf("storing %d keys for List (%s)", n, name)
		if err := b.populate(b.stores[name], prefix, n); err != nil {
			return fmt.Errorf("storing keys for List: %w", err)
		}
	}
	f := newFigure(fmt.Sprintf("List of %d keys", n), kind, "ms", true, names)
	return b.measure(f, rounds, func(name string, _ int) (float64, error) {
		start := time.Now()
		got, err := b.stores[name].List(b.ctx, prefix+"/")
		if err == nil && got != n {
			err = fmt.Errorf("listed %d keys, want %d", got, n)
		}
		return float64(time.Since(start).Microseconds()) / 1000, err
	})
}

// hideDeletePrefix keeps only the Storage methods, so that
// storage.DeletePrefix takes its generic path: List, then Delete key by key.
type hideDeletePrefix struct{ storage.Storage }

// deletePrefix times deleting n keys under a prefix with DeletePrefix and
// with a per-key loop. Every round stores the keys anew, through this
// library, before each variant. For S3, roundTrip > 0 sends the deletes
// (not the stores) through a proxy that adds that much round-trip time, as
// a server farther than loopback would.
func (b *bench) deletePrefix(kind string, n, rounds int, roundTrip time.Duration) error {
	var lib storage.Storage
	var variants []string
	var run func(variant, prefix string) (int, error)
	title := fmt.Sprintf("DeletePrefix of %d keys", n)
	if kind == "S3" {
		near, err := storage.NewS3(b.ctx, b.env.s3Config())
		if err != nil {
			return err
		}
		lib = near // stores the keys on loopback, whatever the variants go through
		far := b.env
		if roundTrip > 0 {
			p, err := startLatencyProxy(strings.TrimPrefix(b.env.Endpoint, "http://"), roundTrip)
			if err != nil {
				return err
			}
			defer p.Close()
			far.Endpoint = "http://" + p.Addr()
			title += fmt.Sprintf(", %s round trip added", millis(roundTrip))
		}
		s, err := storage.NewS3(b.ctx, far.s3Config())
		if err != nil {
			return err
		}
		variants = []string{"storage.DeletePrefix (*S3)", "per-key loop (*S3 List + Delete)", "aws-sdk-go-v2 DeleteObjects, 4 batches in flight"}
		raw := far.rawClient()
		run = func(v, prefix string) (int, error) {
			switch v {
			case variants[0]:
				return storage.DeletePrefix(b.ctx, s, prefix)
			case variants[1]:
				return storage.DeletePrefix(b.ctx, hideDeletePrefix{s}, prefix)
			}
			return deleteConcurrently(b.ctx, raw, b.env.Bucket, prefix, 4)
		}
	} else {
		dir := filepath.Join(b.env.Dir, "delete")
		l, err := storage.NewLocal(dir, nil)
		if err != nil {
			return err
		}
		defer l.Close()
		lib = l
		variants = []string{"storage.DeletePrefix (*Local)", "per-key loop (os: WalkDir + Remove)", "os.RemoveAll"}
		run = func(v, prefix string) (int, error) {
			switch v {
			case variants[0]:
				return storage.DeletePrefix(b.ctx, l, prefix)
			case variants[1]:
				return removeEach(filepath.Join(dir, prefix))
			}
			return n, os.RemoveAll(filepath.Join(dir, prefix))
		}
	}
	f := newFigure(title, kind, "s", true, variants)
	f.Ours = variants[0]
	if roundTrip > 0 {
		f.RoundTrip = roundTrip
		defer func() { f.Note = b.roundTripNote(f, n) }()
	}
	return b.measure(f, rounds, func(v string, r int) (float64, error) {
		prefix := b.key(kind, "delete", fmt.Sprintf("r%d-%d-%s", r, roundTrip.Milliseconds(), slug(v)))
		if err := b.populate(libStore{lib}, prefix, n); err != nil {
			return 0, err
		}
		start := time.Now()
		got, err := run(v, prefix+"/")
		if err == nil && got != n {
			err = fmt.Errorf("deleted %d keys, want %d", got, n)
		}
		return time.Since(start).Seconds(), err
	})
}

// roundTripNote says what the proxy added per request, from the per-key
// loop's time per key here and on loopback, and what the loop would take
// if the proxy added the round trip and nothing more.
func (b *bench) roundTripNote(far *figure, n int) string {
	bare, near := b.bareLoop(far, n)
	if near == nil {
		return ""
	}
	loop := far.Names[1]
	perKey := func(f *figure) float64 { return median(f.Vals[loop]) / float64(n) * 1000 }
	return fmt.Sprintf("Every request of these variants goes through a proxy in the benchmark that holds each chunk of bytes "+
		"for half the round trip in each direction. The per-key loop takes %.1f ms per key here against %.1f ms on loopback: "+
		"the round trip, plus the proxy's own copying and timer wake-ups on a busy machine. Counting the round trip alone "+
		"(the loop's loopback time plus %d × %s), the loop would take %.1f s, %.1f× DeletePrefix's median here.",
		perKey(far), perKey(near), n, millis(far.RoundTrip), bare, bare/median(far.Vals[far.Ours]))
}

// bareLoop estimates the per-key loop's time with far's round trip and no
// proxy overhead: its time in near, the same workload on loopback, plus one
// round trip per key. near is nil when either figure lacks the values.
func (b *bench) bareLoop(far *figure, n int) (bare float64, near *figure) {
	loop := far.Names[1]
	near = b.find(far.Kind, fmt.Sprintf("DeletePrefix of %d keys", n))
	if near == nil || len(near.Vals[loop]) == 0 || len(far.Vals[far.Ours]) == 0 {
		return 0, nil
	}
	return median(near.Vals[loop]) + float64(n)*far.RoundTrip.Seconds(), near
}

// deleteConcurrently lists prefix and deletes each page of 1000 keys with
// one DeleteObjects, up to inFlight requests at a time: what *S3's
// DeletePrefix does, written with the raw SDK.
func deleteConcurrently(ctx context.Context, c *s3.Client, bucket, prefix string, inFlight int) (int, error) {
	var deleted atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	slots := make(chan struct{}, inFlight)
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return int(deleted.Load()), err
		}
		if len(page.Contents) == 0 {
			continue // S3 refuses a DeleteObjects of no keys
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
			if err == nil && len(out.Errors) > 0 {
				err = fmt.Errorf("%d keys not deleted: %s", len(out.Errors), aws.ToString(out.Errors[0].Message))
			}
			if err != nil {
				select {
				case errs <- err:
				default:
				}
				return
			}
			deleted.Add(int64(len(ids)))
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return int(deleted.Load()), err
	default:
		return int(deleted.Load()), nil
	}
}

// removeEach is the per-key loop a program on package os would run.
func removeEach(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		return os.Remove(p)
	})
	if err == nil {
		err = os.RemoveAll(dir) // the emptied folders
	}
	return n, err
}

// millis writes d in milliseconds, as the report's other times are: "5 ms".
func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + " ms"
}

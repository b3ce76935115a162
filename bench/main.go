// Command bench measures this library against the libraries a program would
// use instead, on S3 (MinIO) and on the local disk, and writes BENCHMARKS.md
// and a chart. Run it through bench/run, which starts MinIO the way the
// tests do; see bench/README.md.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/orga-server/storage"
)

type options struct {
	SmallRounds, Rounds, BigRounds int
	OpTime                         time.Duration
	Large, Huge                    int64
	Keys                           int
	TuneSize                       int64
	RoundTrip                      time.Duration // added to the second S3 DeletePrefix figure
	Only                           []string
}

func main() {
	log.SetFlags(log.Ltime)
	var (
		quick     = flag.Bool("quick", false, "smoke test: small sizes, short rounds (the report says so)")
		smallRnds = flag.Int("small-rounds", 15, "rounds of the small-object workloads")
		rounds    = flag.Int("rounds", 9, "rounds of the 64 MiB and List workloads")
		bigRounds = flag.Int("big-rounds", 3, "rounds of the 1 GiB, unknown-size, DeletePrefix and tuning workloads")
		opTime    = flag.Duration("op-time", 600*time.Millisecond, "duration of one round of a small-object workload")
		large     = flag.Int64("large", 64, "the large object, in MiB")
		huge      = flag.Int64("huge", 1024, "the huge object and the unknown-size upload, in MiB")
		keys      = flag.Int("keys", 10000, "keys for List and DeletePrefix, objects for sync")
		roundTrip = flag.Duration("round-trip", 5*time.Millisecond, "round-trip time added to S3 requests in the second DeletePrefix figure; 0 skips it")
		tune      = flag.Bool("tune", true, "measure *S3's part size and concurrency")
		tuneSize  = flag.Int64("tune-size", 512, "object size for -tune, in MiB")
		only      = flag.String("only", "", "comma-separated workloads to run: small,large,huge,unknown,list,delete,sync,handler,tune (default all)")
		merge     = flag.Bool("merge", false, "keep the figures of the workloads not run from -results, and say in the report which run the new ones come from")
		dir       = flag.String("dir", ".data", "folder for the local contenders, on the disk under test; emptied afterwards")
		md        = flag.String("md", "../BENCHMARKS.md", "the report to write")
		png       = flag.String("png", "../benchmarks.png", "the chart to write")
		minioVer  = flag.String("minio-version", "unknown", "MinIO's version, for the report")
		command   = flag.String("command", "bench/run", "the command line to name in the report")
		results   = flag.String("results", "results.json", "where to save the raw results, for -rerender")
		rerender  = flag.Bool("rerender", false, "write the report and chart again from -results, without measuring")

		measure   = flag.Bool("measure", false, "internal: run the command after -- and print its time and peak RSS")
		childName = flag.String("child", "", "internal: run one unknown-size upload for this contender")
		childKey  = flag.String("child-key", "", "internal")
		childSize = flag.Int64("child-size", 0, "internal")
	)
	flag.Parse()
	if *measure {
		if err := runMeasured(flag.Args()); err != nil {
			log.Fatalf("-measure: %v", err)
		}
		return
	}
	if *childKey != "" || *childSize != 0 || slices.Contains(os.Args, "-child") {
		if err := runChild(*childName, *childKey, *childSize); err != nil {
			log.Fatalf("child %s: %v", *childName, err)
		}
		return
	}
	opts := options{SmallRounds: *smallRnds, Rounds: *rounds, BigRounds: *bigRounds, OpTime: *opTime,
		Large: *large << 20, Huge: *huge << 20, Keys: *keys, TuneSize: *tuneSize << 20, RoundTrip: *roundTrip}
	if *quick {
		opts = options{SmallRounds: 3, Rounds: 2, BigRounds: 2, OpTime: 200 * time.Millisecond,
			Large: 16 << 20, Huge: 64 << 20, Keys: 1000, TuneSize: 64 << 20, RoundTrip: *roundTrip}
		*tune = false
	}
	if *only != "" {
		opts.Only = strings.Split(*only, ",")
	} else if !*tune {
		opts.Only = []string{"small", "large", "huge", "unknown", "list", "delete", "sync", "handler"}
	}

	if *rerender {
		if err := render(*results, *md, *png); err != nil {
			log.Fatal(err)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, *dir, *md, *png, *results, *minioVer, *command, *quick, *merge); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, opts options, dir, mdFile, pngFile, resultsFile, minioVer, command string, quick, merge bool) error {
	e := envFromOS()
	want := func(w string) bool { return len(opts.Only) == 0 || slices.Contains(opts.Only, w) }
	// The serving workload alone needs no MinIO.
	needS3 := slices.ContainsFunc([]string{"small", "large", "huge", "unknown", "list", "delete", "sync", "tune"}, want)
	if needS3 && (e.Endpoint == "" || e.Bucket == "" || e.AccessKey == "" || e.SecretKey == "") {
		return errors.New("no MinIO: run bench/run, which starts one with scripts/minio and sets STORAGE_TEST_S3_*")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	e.Dir = abs
	if err := os.MkdirAll(e.Dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(e.Dir)

	id := make([]byte, 4)
	rand.Read(id)
	b := &bench{ctx: ctx, opts: opts, env: e, stores: map[string]store{}, prefix: "bench-" + hex.EncodeToString(id)}
	if needS3 {
		for _, n := range append(slices.Clone(s3Contenders), localContenders...) {
			s, err := openStore(ctx, n, e)
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			b.stores[n] = s
		}
		defer b.cleanup()
	}

	// Before any workload, while the tree is still the one go run built.
	vers := versions(minioVer)
	others := otherWork()
	load := sampleLoad(5 * time.Second)
	start := time.Now()
	steps := []struct {
		name string
		run  func() error
	}{
		{"small", func() error { return b.small("S3", s3Contenders) }},
		{"small", func() error { return b.small("local", localContenders) }},
		{"large", func() error { return b.large("S3", s3Contenders, opts.Large, opts.Rounds) }},
		{"large", func() error { return b.large("local", localContenders, opts.Large, opts.Rounds) }},
		{"huge", func() error { return b.hugeIfRoom("S3", s3Contenders) }},
		{"huge", func() error { return b.hugeIfRoom("local", localContenders) }},
		{"unknown", func() error { return b.unknownSize(s3Contenders, opts.Huge, opts.BigRounds) }},
		{"list", func() error { return b.list("S3", s3Contenders, opts.Keys, opts.Rounds) }},
		{"list", func() error { return b.list("local", localContenders, opts.Keys, opts.Rounds) }},
		{"delete", func() error { return b.deletePrefix("S3", opts.Keys, opts.BigRounds, 0) }},
		{"delete", func() error {
			if opts.RoundTrip <= 0 {
				return nil
			}
			return b.deletePrefix("S3", opts.Keys, opts.BigRounds, opts.RoundTrip)
		}},
		{"delete", func() error { return b.deletePrefix("local", opts.Keys, opts.BigRounds, 0) }},
		{"sync", func() error { return b.syncs(opts.Keys, opts.BigRounds) }},
		{"handler", b.serve},
		{"tune", func() error { return b.tune(opts.TuneSize, opts.BigRounds) }},
	}
	var failures []string
	for _, s := range steps {
		if !want(s.name) {
			continue
		}
		// A failed workload is reported, not fatal: the others' figures
		// are worth keeping.
		if err := s.run(); err != nil {
			log.Printf("FAILED: %v", err)
			failures = append(failures, err.Error())
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	took := time.Since(start).Round(time.Second)

	rounds := fmt.Sprintf("%d of %s each (small objects, serving), %d (64 MiB, List), %d (1 GiB, unknown size, DeletePrefix, sync, tuning)",
		opts.SmallRounds, millis(opts.OpTime), opts.Rounds, opts.BigRounds)
	if quick {
		command += " -quick"
		rounds += ". **Quick mode: a smoke test with small sizes, not a measurement.**"
	}
	saved := results{Info: reportInfo{
		Command: command, Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Took: took.String(),
		Chart: filepath.Base(pngFile), Load: load.summary(), Rounds: rounds,
		Machine: machine(e.Dir), Versions: vers, Others: others, Failures: failures,
	}, Figures: b.figures}
	if merge {
		if saved, err = merged(resultsFile, saved); err != nil {
			return err
		}
	}
	raw, err := json.MarshalIndent(saved, "", "\t")
	if err != nil {
		return err
	}
	if err := os.WriteFile(resultsFile, raw, 0o644); err != nil {
		return err
	}
	if err := render(resultsFile, mdFile, pngFile); err != nil {
		return err
	}
	log.Printf("wrote %s, %s and %s in %s", resultsFile, mdFile, pngFile, took)
	return nil
}

// results is what a run measured, saved so that the report's wording can
// change without measuring again.
type results struct {
	Info    reportInfo
	Figures []*figure
}

// render writes the report and the chart from saved results.
func render(resultsFile, mdFile, pngFile string) error {
	raw, err := os.ReadFile(resultsFile)
	if err != nil {
		return err
	}
	var saved results
	if err := json.Unmarshal(raw, &saved); err != nil {
		return fmt.Errorf("%s: %w", resultsFile, err)
	}
	saved.Info.Chart = filepath.Base(pngFile)
	b := &bench{figures: saved.Figures}
	var buf bytes.Buffer
	b.report(&buf, saved.Info)
	if err := os.WriteFile(mdFile, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if err := b.chart(pngFile); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// hugeIfRoom runs the 1 GiB put/get when the disk has room for it: the
// machine may be shared, and a full disk fails more than this benchmark.
func (b *bench) hugeIfRoom(kind string, names []string) error {
	var st syscall.Statfs_t
	need := int64(len(names)+2) * b.opts.Huge // the objects, and MinIO's or the filesystem's slack
	if err := syscall.Statfs(b.env.Dir, &st); err == nil && int64(st.Bavail)*int64(st.Bsize) < need {
		log.Printf("skipping %s %s put/get: %d MiB free, %d MiB needed", kind, sizeLabel(b.opts.Huge), int64(st.Bavail)*int64(st.Bsize)>>20, need>>20)
		return nil
	}
	return b.large(kind, names, b.opts.Huge, b.opts.BigRounds)
}

// cleanup deletes this run's S3 objects; the local folder goes with e.Dir.
func (b *bench) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := storage.NewS3(ctx, b.env.s3Config())
	if err == nil {
		_, err = storage.DeletePrefix(ctx, s, b.prefix+"/")
	}
	if err != nil {
		log.Printf("cleanup: %v", err)
	}
}

// merged returns the results saved in resultsFile with the figures of now in
// place of those of the same table, or added, each section of now noting the
// run it comes from: a run of a few workloads updates the report without
// measuring the others again.
func merged(resultsFile string, now results) (results, error) {
	raw, err := os.ReadFile(resultsFile)
	if err != nil {
		return now, fmt.Errorf("-merge: %w", err)
	}
	var old results
	if err := json.Unmarshal(raw, &old); err != nil {
		return now, fmt.Errorf("-merge: %s: %w", resultsFile, err)
	}
	commit := ""
	for _, v := range now.Info.Versions {
		if v[0] == "github.com/orga-server/storage" {
			commit = ", " + v[1]
		}
	}
	noted := map[string]bool{}
	for _, f := range now.Figures {
		if !noted[f.Kind] {
			noted[f.Kind] = true
			f.Note = strings.TrimSpace(f.Note + fmt.Sprintf(" The tables of this section come from a later run of their own, `%s` on %s "+
				"(it took %s%s; load: %s), after the rest of this report was measured.", now.Info.Command,
				now.Info.Date, now.Info.Took, commit, now.Info.Load))
		}
		i := slices.IndexFunc(old.Figures, func(g *figure) bool { return g.Kind == f.Kind && g.Title == f.Title })
		if i >= 0 {
			old.Figures[i] = f
		} else {
			old.Figures = append(old.Figures, f)
		}
	}
	old.Info.Failures = append(old.Info.Failures, now.Info.Failures...)
	return old, nil
}

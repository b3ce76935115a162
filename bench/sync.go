package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/orga-server/storage"
)

// The sync contenders: programs, each run as a child process with its
// defaults, as an operator would run it.
const (
	syncOurs   = "orga-storage sync"
	syncRclone = "rclone copy"
	syncAWS    = "aws s3 sync"
)

var syncContenders = []string{syncOurs, syncRclone, syncAWS}

// syncTool is how one contender copies a folder to a bucket prefix and back.
type syncTool struct {
	up, down func(dir, prefix string) []string // the command lines
	env      []string
}

// syncTools returns the contenders found on this machine, and logs those
// that are not.
func (b *bench) syncTools(ours string) (map[string]syncTool, []string) {
	e := b.env
	cfg := filepath.Join(e.Dir, "sync-rclone.conf") // empty: the remote is in the environment
	os.WriteFile(cfg, nil, 0o600)
	tools := map[string]syncTool{
		syncOurs: {
			up: func(dir, prefix string) []string {
				return []string{ours, "sync", "local:" + dir, "s3://" + e.Bucket, prefix + "/"}
			},
			down: func(dir, prefix string) []string {
				return []string{ours, "sync", "s3://" + e.Bucket, "local:" + dir, prefix + "/"}
			},
			env: []string{"AWS_KEY=" + e.AccessKey, "AWS_SECRET=" + e.SecretKey, "AWS_ENDPOINT_URL=" + e.Endpoint, "AWS_REGION=us-east-1"},
		},
		syncRclone: {
			up: func(dir, prefix string) []string {
				return []string{"rclone", "copy", filepath.Join(dir, prefix), "bench:" + e.Bucket + "/" + prefix}
			},
			down: func(dir, prefix string) []string {
				return []string{"rclone", "copy", "bench:" + e.Bucket + "/" + prefix, filepath.Join(dir, prefix)}
			},
			env: []string{"RCLONE_CONFIG=" + cfg, "RCLONE_CONFIG_BENCH_TYPE=s3", "RCLONE_CONFIG_BENCH_PROVIDER=Minio",
				"RCLONE_CONFIG_BENCH_ENV_AUTH=false", "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=" + e.AccessKey,
				"RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=" + e.SecretKey, "RCLONE_CONFIG_BENCH_ENDPOINT=" + e.Endpoint,
				"RCLONE_CONFIG_BENCH_REGION=us-east-1"},
		},
		syncAWS: {
			up: func(dir, prefix string) []string {
				return []string{"aws", "s3", "sync", "--only-show-errors", "--endpoint-url", e.Endpoint, filepath.Join(dir, prefix), "s3://" + e.Bucket + "/" + prefix}
			},
			down: func(dir, prefix string) []string {
				return []string{"aws", "s3", "sync", "--only-show-errors", "--endpoint-url", e.Endpoint, "s3://" + e.Bucket + "/" + prefix, filepath.Join(dir, prefix)}
			},
			env: []string{"AWS_ACCESS_KEY_ID=" + e.AccessKey, "AWS_SECRET_ACCESS_KEY=" + e.SecretKey, "AWS_DEFAULT_REGION=us-east-1",
				"AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + cfg},
		},
	}
	var names []string
	for _, n := range syncContenders {
		if _, err := exec.LookPath(tools[n].up("", "")[0]); err != nil {
			log.Printf("sync: skipping %s: %v (bench/run installs rclone and awscli with apt-get where it can)", n, err)
			continue
		}
		names = append(names, n)
	}
	return tools, names
}

// syncTree stores n objects of 4 KiB to 1 MiB, log-uniformly spread (as
// uploads are: many small, a few large), under prefix in a Local in dir,
// as orga-server would have stored them, and returns their total size.
func (b *bench) syncTree(dir, prefix string, n int) (int64, error) {
	l, err := storage.NewLocal(dir, nil)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	if l.Attributes() != "extended attributes" {
		// In file headers the files are not the objects' bytes, and the
		// other tools would copy the headers too.
		return 0, fmt.Errorf("the sync workload needs a file system with extended attributes under %s; it keeps %s", dir, l.Attributes())
	}
	rng := rand.New(rand.NewPCG(11, 13))
	sizes := make([]int64, n)
	var total int64
	for i := range sizes {
		sizes[i] = int64(4096 * math.Pow(256, rng.Float64()))
		total += sizes[i]
	}
	err = parallel(n, 8, func(i int) error {
		_, err := l.Put(b.ctx, syncKey(prefix, i), newPRNG(uint64(i), sizes[i]), nil)
		return err
	})
	return total, err
}

func syncKey(prefix string, i int) string { return fmt.Sprintf("%s/d%03d/k%05d.bin", prefix, i/100, i) }

// syncs times copying n objects from the local disk to MinIO and back
// with each contender, a first run and a rerun that finds nothing to do
// each way, and takes each run's peak memory.
func (b *bench) syncs(n, rounds int) error {
	ours, err := buildCommand(b.env.Dir)
	if err != nil {
		return err
	}
	tools, names := b.syncTools(ours)
	if len(names) == 0 || names[0] != syncOurs {
		return errors.New("sync: no contender to measure")
	}
	src := filepath.Join(b.env.Dir, "sync-src")
	prefix := b.key("S3", "sync")
	log.Printf("storing %d objects for sync", n)
	total, err := b.syncTree(src, prefix, n)
	if err != nil {
		return fmt.Errorf("storing the objects for sync: %w", err)
	}
	title := fmt.Sprintf("Sync of %d objects (%.0f MiB, 4 KiB-1 MiB)", n, float64(total)/(1<<20))
	runs := []struct {
		what string
		up   bool
	}{{"local → S3, first run", true}, {"local → S3, rerun", true}, {"S3 → local, first run", false}, {"S3 → local, rerun", false}}
	var speed []*figure
	for _, r := range runs {
		f := newFigure(title+": "+r.what, "sync", "objects/s", false, names)
		f.Ours = syncOurs
		speed = append(speed, f)
	}
	mem := newFigure(title+": peak memory, the highest of the four runs", "sync", "MiB", true, names)
	mem.Ours = syncOurs
	mem.Note = "The peak resident set size of the contender's process (its `ru_maxrss`, taken by a small child of the benchmark " +
		"that starts it and waits for it, so that the benchmark's own memory is not counted)."

	log.Printf("%s: %d rounds", title, rounds)
	for round := range rounds {
		for i := range names {
			name := names[(i+round)%len(names)]
			t := tools[name]
			// A prefix and a folder of this round's own: every first run
			// starts from nothing.
			p := fmt.Sprintf("%s-%s-%d", prefix, slug(name), round)
			dst := filepath.Join(b.env.Dir, "sync-dst")
			if err := os.Rename(filepath.Join(src, prefix), filepath.Join(src, p)); err != nil {
				return err
			}
			peak := 0.0
			for j, r := range runs {
				syscall.Sync()
				args := t.up(src, p)
				if !r.up {
					args = t.down(dst, p)
				}
				res, err := b.measureCommand(t.env, args)
				if err == nil {
					err = b.checkSynced(r.up, dst, p, n)
				}
				if err != nil {
					return fmt.Errorf("%s, %s: %w", speed[j].Title, name, err)
				}
				speed[j].Vals[name] = append(speed[j].Vals[name], float64(n)/res.elapsed.Seconds())
				peak = max(peak, res.rssMiB)
			}
			mem.Vals[name] = append(mem.Vals[name], peak)
			if err := os.Rename(filepath.Join(src, p), filepath.Join(src, prefix)); err != nil {
				return err
			}
			if err := os.RemoveAll(dst); err != nil {
				return err
			}
			if _, err := storage.DeletePrefix(b.ctx, b.stores[libS3].(libStore).s, p+"/"); err != nil {
				return err
			}
		}
	}
	for _, f := range append(speed, mem) {
		for _, n := range f.Names {
			log.Printf("  %-40s %s", n, summary(f.Vals[n], f.Unit))
		}
		b.figures = append(b.figures, f)
	}
	return nil
}

// checkSynced makes sure that a run copied all n objects under prefix: to
// the bucket, or to the files under dst.
func (b *bench) checkSynced(up bool, dst, prefix string, n int) error {
	got := 0
	if up {
		var err error
		if got, err = b.stores[libS3].List(b.ctx, prefix+"/"); err != nil {
			return err
		}
	} else {
		err := filepath.WalkDir(filepath.Join(dst, prefix), func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
				got++
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	if got != n {
		return fmt.Errorf("found %d objects after the run, want %d", got, n)
	}
	return nil
}

// buildCommand builds orga-storage from this repository into dir.
func buildCommand(dir string) (string, error) {
	exe := filepath.Join(dir, "orga-storage")
	cmd := exec.Command("go", "build", "-o", exe, "./cmd/orga-storage")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building orga-storage: %v: %s", err, out)
	}
	return exe, nil
}

// measureCommand runs args with env added through a child of this
// program (-measure), which reports how long the command took and its
// peak RSS. The child, not this process, starts the command because Linux
// counts the memory of the process that forks into the ru_maxrss of the
// one it execs.
func (b *bench) measureCommand(env, args []string) (childResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return childResult{}, err
	}
	cmd := exec.CommandContext(b.ctx, exe, append([]string{"-measure", "--"}, args...)...)
	// Without the machine's own AWS, rclone and orga-storage settings (an
	// AWS_CA_BUNDLE breaks rclone on a plain-HTTP endpoint), with the
	// contender's.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "AWS_") && !strings.HasPrefix(name, "RCLONE_") && !strings.HasPrefix(name, "STORAGE_") && name != "BUCKET_NAME" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return childResult{}, fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	var ns, maxKiB int64
	if _, err := fmt.Sscan(string(out), &ns, &maxKiB); err != nil {
		return childResult{}, fmt.Errorf("-measure printed %q", out)
	}
	return childResult{elapsed: time.Duration(ns), rssMiB: float64(maxKiB) / 1024}, nil
}

// runMeasured is the -measure child: it runs args, its output to stderr
// (where the log goes), and prints the nanoseconds it took and its peak
// RSS in KiB.
func runMeasured(args []string) error {
	elapsed, maxKiB, err := measured(args)
	if err != nil {
		return err
	}
	fmt.Println(strconv.FormatInt(int64(elapsed), 10), maxKiB)
	return nil
}

// measured runs args and returns how long it took and its peak RSS in KiB.
func measured(args []string) (elapsed time.Duration, maxKiB int64, err error) {
	if len(args) == 0 {
		return 0, 0, errors.New("no command")
	}
	cmd := exec.CommandContext(context.Background(), args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, err
	}
	elapsed = time.Since(start)
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0, errors.New("no rusage")
	}
	return elapsed, ru.Maxrss, nil // KiB on Linux
}

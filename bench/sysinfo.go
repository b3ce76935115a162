package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// machine describes where the run happened, for the report.
func machine(dir string) [][2]string {
	rows := [][2]string{
		{"CPU", cpuModel()},
		{"Cores", strconv.Itoa(runtime.NumCPU())},
		{"Memory", memTotal()},
		{"Kernel", readTrim("/proc/sys/kernel/osrelease")},
		{"Disk under test", mountOf(dir)},
	}
	return rows
}

func readTrim(name string) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// field returns the value of the first "name: value" line of a /proc file.
func field(file, name string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func cpuModel() string { return field("/proc/cpuinfo", "model name") }

func memTotal() string {
	kb, err := strconv.ParseInt(strings.TrimSuffix(field("/proc/meminfo", "MemTotal"), " kB"), 10, 64)
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
}

// mountOf names the filesystem holding dir: the longest mount point that
// is a prefix of it.
func mountOf(dir string) string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "unknown"
	}
	best, desc := "", "unknown"
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mnt := f[1]
		if (dir == mnt || strings.HasPrefix(dir, strings.TrimSuffix(mnt, "/")+"/")) && len(mnt) >= len(best) {
			best, desc = mnt, fmt.Sprintf("%s on %s (%s)", f[0], mnt, f[2])
		}
	}
	return desc
}

// versions lists Go and the modules under test, as built into this binary.
func versions(minio string) [][2]string {
	rows := [][2]string{{"Go", runtime.Version()}}
	out, err := exec.Command("git", "-C", "..", "describe", "--always").Output()
	lib := "this checkout"
	if err == nil {
		lib = "commit " + strings.TrimSpace(string(out))
	}
	// The working tree is measured, so say which library files differ from
	// that commit (bench/ itself does not count).
	if out, err := exec.Command("git", "-C", "..", "status", "--porcelain", "--", "*.go", ":!bench").Output(); err == nil && len(out) > 0 {
		var files []string
		for line := range strings.Lines(string(out)) {
			if len(line) > 3 {
				files = append(files, strings.TrimSpace(line[3:]))
			}
		}
		lib += ", with uncommitted changes to " + strings.Join(files, ", ")
	}
	rows = append(rows, [2]string{"github.com/orga-server/storage", lib})
	want := []string{
		"github.com/aws/aws-sdk-go-v2",
		"github.com/aws/aws-sdk-go-v2/service/s3",
		"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager",
		"github.com/minio/minio-go/v7",
		"gocloud.dev",
		"gonum.org/v1/plot",
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, w := range want {
			for _, d := range bi.Deps {
				if d.Path == w {
					rows = append(rows, [2]string{w, d.Version})
				}
			}
		}
	}
	return append(rows, [2]string{"MinIO server", minio})
}

// loadSampler records the 1-minute load average through the run: the
// machine may be shared, and the report says how busy it was.
type loadSampler struct {
	mu      sync.Mutex
	samples []float64
	stop    chan struct{}
}

func sampleLoad(every time.Duration) *loadSampler {
	l := &loadSampler{stop: make(chan struct{})}
	l.sample()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				l.sample()
			case <-l.stop:
				return
			}
		}
	}()
	return l
}

func (l *loadSampler) sample() {
	f := strings.Fields(readTrim("/proc/loadavg"))
	if len(f) == 0 {
		return
	}
	if v, err := strconv.ParseFloat(f[0], 64); err == nil {
		l.mu.Lock()
		l.samples = append(l.samples, v)
		l.mu.Unlock()
	}
}

// summary stops sampling and describes the load seen.
func (l *loadSampler) summary() string {
	close(l.stop)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) == 0 {
		return "unknown"
	}
	lo, hi, sum := l.samples[0], l.samples[0], 0.0
	for _, v := range l.samples {
		lo, hi, sum = min(lo, v), max(hi, v), sum+v
	}
	return fmt.Sprintf("1-minute load average %.2f at the start, mean %.2f, min %.2f, max %.2f (%d samples; %d cores)",
		l.samples[0], sum/float64(len(l.samples)), lo, hi, len(l.samples), runtime.NumCPU())
}

// otherWork lists other test runs and MinIO servers found at the start, by
// their command lines, for the report; this run's own MinIO, started by
// bench/run in MINIO_STATE_DIR, is left out.
func otherWork() []string {
	own := os.Getenv("MINIO_STATE_DIR") // bench/run's own MinIO servers run from it
	entries, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		cmd := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
		if own != "" && strings.Contains(cmd, own) {
			continue
		}
		if strings.HasPrefix(cmd, "go test") || strings.Contains(cmd, "minio server") || strings.HasSuffix(strings.Fields(cmd + " x")[0], ".test") {
			if len(cmd) > 80 {
				cmd = cmd[:80] + "…"
			}
			found = append(found, cmd)
		}
	}
	return found
}

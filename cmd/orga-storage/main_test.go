package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binary is the orga-storage command built once by TestMain: the tests run
// it as a user would.
var binary string

func TestMain(m *testing.M) {
	// Under Wine there is no go command to build with: scripts/wine builds
	// the Windows binary beforehand and names it here.
	if prebuilt := os.Getenv("STORAGE_TEST_CLI_BINARY"); prebuilt != "" {
		binary = prebuilt
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "orga-storage-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "orga-storage")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building orga-storage:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// absPath matches the start of an absolute path, up to the separator
// before a last element.
const absPath = `(/|[A-Z]:\\).*[/\\]`

// osError returns the system's words for the error of a call on a file,
// such as "no such file or directory" ("File not found." on Windows), for
// the tests of messages naming a file.
func osError(_ any, err error) string {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		panic(fmt.Sprintf("osError: want a *fs.PathError, got %v", err))
	}
	return pe.Err.Error()
}

// result is what a run of the command left behind.
type result struct {
	stdout, stderr string
	code           int
}

// cleanEnv returns the environment without any variable that FromEnv reads
// (nor the tests' own), with extra added.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "BUCKET_NAME" || strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "STORAGE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// localEnv returns an environment selecting the local backend in a fresh
// directory, with extra added.
func localEnv(t *testing.T, extra ...string) []string {
	return cleanEnv(append([]string{"STORAGE_DIR=" + filepath.Join(t.TempDir(), "media")}, extra...)...)
}

// run runs orga-storage with args in env, in a scratch working directory,
// feeding it stdin.
func run(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	return runIn(t, t.TempDir(), env, stdin, args...)
}

func runIn(t *testing.T, dir string, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "running %v", args)
		code = exit.ExitCode()
	}
	return result{stdout.String(), stderr.String(), code}
}

// ok runs orga-storage and requires it to succeed quietly, returning stdout.
func ok(t *testing.T, env []string, stdin string, args ...string) string {
	t.Helper()
	r := run(t, env, stdin, args...)
	require.Equal(t, 0, r.code, "orga-storage %s: %s", strings.Join(args, " "), r.stderr)
	require.Empty(t, r.stderr, "orga-storage %s", strings.Join(args, " "))
	return r.stdout
}

// failsWith runs orga-storage, requires exit status code and exactly one
// line on stderr, and returns that line.
func failsWith(t *testing.T, code int, env []string, args ...string) string {
	t.Helper()
	r := run(t, env, "", args...)
	require.Equal(t, code, r.code, "orga-storage %s: stdout %q, stderr %q", strings.Join(args, " "), r.stdout, r.stderr)
	require.True(t, strings.HasPrefix(r.stderr, "orga-storage"), "stderr: %q", r.stderr)
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line on stderr: %q", r.stderr)
	return strings.TrimSuffix(r.stderr, "\n")
}

func TestLocalSession(t *testing.T) {
	env := localEnv(t)
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	require.NoError(t, os.WriteFile(readme, []byte("# Hello\n"), 0o644))

	// The README's main job.
	assert.Equal(t, "/static/media/docs/readme.md\n", ok(t, env, "", "put", readme, "docs/readme.md"))
	// From stdin, flags after the arguments too.
	assert.Equal(t, "/static/media/docs/notes/a%20b%2B.txt\n",
		ok(t, env, "note\n", "put", "-", "docs/notes/a b+.txt", "--meta", "Author=alice", "--meta", "team=x",
			"--cache-control", "max-age=60", "--disposition", "inline"))
	ok(t, env, "{}", "put", "--content-type", "application/json", "-", "top.bin")

	lines := strings.Split(strings.TrimSuffix(ok(t, env, "", "ls"), "\n"), "\n")
	require.Len(t, lines, 2)
	assert.Regexp(t, `^\s+-\s+docs/$`, lines[0])
	assert.Regexp(t, `^\s+2 B  \d{4}-\d\d-\d\d \d\d:\d\d  top\.bin$`, lines[1])

	lines = strings.Split(strings.TrimSuffix(ok(t, env, "", "ls", "docs/"), "\n"), "\n")
	require.Len(t, lines, 2)
	assert.Regexp(t, `^\s+-\s+docs/notes/$`, lines[0])
	assert.Regexp(t, `^\s+8 B  .*  docs/readme\.md$`, lines[1])

	lines = strings.Split(strings.TrimSuffix(ok(t, env, "", "ls", "-r", "docs/"), "\n"), "\n")
	require.Len(t, lines, 2)
	assert.Regexp(t, `docs/notes/a b\+\.txt$`, lines[0])
	assert.Regexp(t, `docs/readme\.md$`, lines[1])

	// --json: one object per line.
	var entries []map[string]any
	for line := range strings.Lines(ok(t, env, "", "ls", "-r", "--json")) {
		var e map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		entries = append(entries, e)
	}
	require.Len(t, entries, 3)
	assert.Equal(t, "docs/notes/a b+.txt", entries[0]["key"])
	assert.Equal(t, 5.0, entries[0]["size"])
	assert.Equal(t, "top.bin", entries[2]["key"])
	assert.NotContains(t, entries[2], "content_type", "a listing holds what S3 lists; stat shows the type")
	assert.Contains(t, entries[2], "etag")
	assert.Contains(t, entries[2], "mod_time")
	assert.NotContains(t, entries[2], "is_dir")
	dirs := ok(t, env, "", "ls", "--json")
	assert.Contains(t, dirs, `{"key":"docs/","size":0,"is_dir":true}`)

	assert.Equal(t, "/static/media/docs/readme.md\n", ok(t, env, "", "url", "docs/readme.md"))

	// get to stdout, to a file, into a directory.
	assert.Equal(t, "# Hello\n", ok(t, env, "", "get", "docs/readme.md"))
	assert.Equal(t, "note\n", ok(t, env, "", "get", "docs/notes/a b+.txt", "-"))
	out := filepath.Join(dir, "out.md")
	require.NoError(t, os.WriteFile(out, []byte("old"), 0o644))
	assert.Empty(t, ok(t, env, "", "get", "docs/readme.md", out))
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "# Hello\n", string(got))
	ok(t, env, "", "get", "docs/readme.md", dir)
	got, err = os.ReadFile(filepath.Join(dir, "readme.md"))
	require.NoError(t, err)
	assert.Equal(t, "# Hello\n", string(got))
	leftovers, err := filepath.Glob(filepath.Join(dir, ".*part"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "no temporary files left")

	stat := ok(t, env, "", "stat", "docs/notes/a b+.txt")
	for _, want := range []string{
		`(?m)^Key:\s+docs/notes/a b\+\.txt$`,
		`(?m)^Size:\s+5 bytes \(5 B\)$`,
		`(?m)^ContentType:\s+text/plain; charset=utf-8$`,
		`(?m)^ContentDisposition:\s+inline$`,
		`(?m)^CacheControl:\s+max-age=60$`,
		`(?m)^ETag:\s+"[0-9a-f]+"$`,
		`(?m)^ModTime:\s+\d{4}-\d\d-\d\dT`,
		`(?m)^Metadata:\s+author=alice\n\s+team=x$`,
		`(?m)^URL:\s+/static/media/docs/notes/a%20b%2B\.txt$`,
	} {
		assert.Regexp(t, want, stat)
	}
	var info map[string]any
	require.NoError(t, json.Unmarshal([]byte(ok(t, env, "", "stat", "--json", "docs/readme.md")), &info))
	assert.Equal(t, "docs/readme.md", info["key"])
	assert.Equal(t, 8.0, info["size"])
	assert.Equal(t, "/static/media/docs/readme.md", info["url"])

	assert.Equal(t, "/static/media/copy.md\n", ok(t, env, "", "cp", "docs/readme.md", "copy.md"))
	assert.Equal(t, "# Hello\n", ok(t, env, "", "get", "copy.md"))

	assert.Empty(t, ok(t, env, "", "rm", "copy.md", "top.bin", "never-was.txt"))
	assert.Equal(t, "removed 2 objects\n", ok(t, env, "", "rm", "-r", "docs/"))
	assert.Empty(t, ok(t, env, "", "ls", "-r"))
}

func TestMainJobInFreshClone(t *testing.T) {
	// No configuration at all: the default directory static/media under the
	// working directory.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("# Readme\n"), 0o644))
	r := runIn(t, dir, cleanEnv(), "", "put", "README.md", "docs/readme.md")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "/static/media/docs/readme.md\n", r.stdout)
	assert.FileExists(t, filepath.Join(dir, "static/media/docs/readme.md"))
	// Through the library: in the file-header mode (Windows) the file holds
	// a header before the bytes.
	l, err := storage.NewLocal(filepath.Join(dir, "static/media"), nil)
	require.NoError(t, err)
	defer l.Close()
	r2, err := l.Get(context.Background(), "docs/readme.md")
	require.NoError(t, err)
	defer r2.Close()
	got, err := io.ReadAll(r2)
	require.NoError(t, err)
	assert.Equal(t, "# Readme\n", string(got))
}

func TestLargeTransferIsQuietWithoutTerminal(t *testing.T) {
	env := localEnv(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), (6<<20)/16)
	file := filepath.Join(t.TempDir(), "big.bin")
	require.NoError(t, os.WriteFile(file, data, 0o644))
	ok(t, env, "", "put", file, "big.bin") // ok requires an empty stderr
	ok(t, env, string(data), "put", "-", "big-from-stdin.bin")
	out := filepath.Join(t.TempDir(), "out.bin")
	ok(t, env, "", "get", "big-from-stdin.bin", out)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got))
}

// TestPutFileChanged checks that a FILE changed while put reads it is not
// stored. Put runs in this process, where app.fileRead changes FILE
// after its first read: a separate process offers no such moment to wait for.
func TestPutFileChanged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "media")
	for _, v := range storage.Env() {
		t.Setenv(v.Name, "")
	}
	t.Setenv("STORAGE_DIR", dir)
	env := cleanEnv("STORAGE_DIR=" + dir)

	file := filepath.Join(t.TempDir(), "data.bin")
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // more than one read
	rewrite := func(t *testing.T) {
		f, err := os.OpenFile(file, os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteAt([]byte("ABCDEF"), 0)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	for _, tt := range []struct {
		name   string
		change func(t *testing.T, before os.FileInfo)
	}{
		{"appended", func(t *testing.T, _ os.FileInfo) {
			f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.Write([]byte("more"))
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}},
		{"truncated", func(t *testing.T, _ os.FileInfo) {
			require.NoError(t, os.Truncate(file, int64(len(data)/2)))
		}},
		{"rewritten", func(t *testing.T, _ os.FileInfo) { rewrite(t) }},
		{"rewritten, modification time set back", func(t *testing.T, before os.FileInfo) {
			// Only the change time tells, once the coarse clock that
			// sets it has moved on since before.
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				rewrite(t)
				require.NoError(t, os.Chtimes(file, time.Time{}, before.ModTime()))
				after, err := os.Stat(file)
				require.NoError(t, err)
				require.True(t, after.ModTime().Equal(before.ModTime()))
				if !sameChangeTime(after, before) {
					return
				}
			}
			t.Fatal("the change time stays the same")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.name, "set back") && runtime.GOOS != "linux" {
				t.Skip("the change time is read only on Linux")
			}
			ok(t, env, "old\n", "put", "-", "k.bin")
			require.NoError(t, os.WriteFile(file, data, 0o644))
			// An hour ago, so that a write, whatever the clock's
			// granularity, gives another modification time.
			hourAgo := time.Now().Add(-time.Hour)
			require.NoError(t, os.Chtimes(file, hourAgo, hourAgo))
			before, err := os.Stat(file)
			require.NoError(t, err)
			reads := 0
			var stdout, stderr bytes.Buffer
			a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, fileRead: func() {
				if reads++; reads == 1 {
					tt.change(t, before)
				}
			}}
			code := a.main(context.Background(), []string{"put", file, "k.bin"})
			require.Greater(t, reads, 1, "FILE was read in one go")
			assert.Equal(t, 1, code, "stderr: %s", stderr.String())
			assert.Empty(t, stdout.String())
			assert.Regexp(t, `^orga-storage put: put "k\.bin": (.*: )?`+regexp.QuoteMeta(file)+` changed while it was read; nothing was stored\n$`, stderr.String())
			assert.Equal(t, "old\n", ok(t, env, "", "get", "k.bin"), "the old object is kept")
		})
	}

	// Unchanged, it is stored as ever.
	require.NoError(t, os.WriteFile(file, data, 0o644))
	ok(t, env, "", "put", file, "k.bin")
	assert.Equal(t, string(data), ok(t, env, "", "get", "k.bin"))
}

// mode returns the permission bits of the file name.
func mode(t *testing.T, name string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(name)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

// noLeftovers asserts that no temporary file of a download is left in dir.
func noLeftovers(t *testing.T, dir string) {
	t.Helper()
	leftovers, err := filepath.Glob(filepath.Join(dir, ".*part"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "no temporary files left")
}

func TestGetThroughSymlink(t *testing.T) {
	if os.Getenv("STORAGE_TEST_WINE") == "1" {
		t.Skip("Wine: Wine 8 shows a symbolic link as what it leads to, not as a link (a reparse point) as Windows does")
	}
	env := localEnv(t)
	ok(t, env, "new\n", "put", "-", "a.txt")
	dir := t.TempDir()
	target := filepath.Join(dir, "real", "a.txt")
	require.NoError(t, os.Mkdir(filepath.Dir(target), 0o755))
	require.NoError(t, os.WriteFile(target, []byte("old"), 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink("real/a.txt", link))

	ok(t, env, "", "get", "a.txt", link)
	dest, err := os.Readlink(link)
	require.NoError(t, err, "the link stays a link")
	assert.Equal(t, "real/a.txt", dest)
	got, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "new\n", string(got), "the target gets the object")
	assert.Equal(t, os.FileMode(0o600), mode(t, target))
	noLeftovers(t, dir)
	noLeftovers(t, filepath.Dir(target))

	// A link to nothing yet: the file it names is created.
	dangling := filepath.Join(dir, "dangling")
	require.NoError(t, os.Symlink("real/b.txt", dangling))
	ok(t, env, "", "get", "a.txt", dangling)
	dest, err = os.Readlink(dangling)
	require.NoError(t, err, "the link stays a link")
	assert.Equal(t, "real/b.txt", dest)
	got, err = os.ReadFile(filepath.Join(dir, "real", "b.txt"))
	require.NoError(t, err)
	assert.Equal(t, "new\n", string(got))
}

func TestGetErrorNamesFile(t *testing.T) {
	env := localEnv(t)
	ok(t, env, "x", "put", "-", "a.txt")
	line := failsWith(t, 1, env, "get", "a.txt", "nodir/out")
	assert.Equal(t, "orga-storage get: create nodir/out: "+osError(os.Create("nodir/out")), line)
}

func TestRemoveChecksEveryKeyFirst(t *testing.T) {
	env := localEnv(t)
	ok(t, env, "x", "put", "-", "x/a")
	line := failsWith(t, 2, env, "rm", "x/a", "x//b")
	assert.Equal(t, `orga-storage rm: key "x//b": invalid key: has an empty segment (//)`, line)
	assert.Contains(t, ok(t, env, "", "ls", "-r"), "x/a", "nothing removed")
}

func TestSignExpiresTooLong(t *testing.T) {
	env := localEnv(t, "STORAGE_SIGNING_KEY=0123456789abcdef0123456789abcdef")
	ok(t, env, "x", "put", "-", "a.txt")
	for expires, want := range map[string]string{
		"8d":   "--expires 8d is more than 7 days",
		"169h": "--expires 169h is more than 7 days",
		// Days that a time.Duration cannot hold.
		"213504d":               `--expires: duration "213504d" is too long`,
		"99999999999999999999d": `--expires: duration "99999999999999999999d" is too long`,
	} {
		line := failsWith(t, 2, env, "sign", "--expires", expires, "a.txt")
		assert.Contains(t, line, want)
	}
	sign(t, env, "--expires", "168h", "a.txt")
}

func TestSign(t *testing.T) {
	env := localEnv(t, "STORAGE_SIGNING_KEY=0123456789abcdef0123456789abcdef")
	ok(t, env, "x", "put", "-", "a.txt")
	get := sign(t, env, "a.txt")
	assert.Regexp(t, `^/static/media/a\.txt\?X-Expires=\d+&X-Signature=[\w-]+\n$`, get)
	put := sign(t, env, "a.txt", "--put", "--expires", "2h", "--content-type", "text/plain")
	assert.NotEqual(t, get, put)
	assert.Regexp(t, `^/static/media/a\.txt\?`, put)
	sign(t, env, "--expires", "7d", "a.txt")
	private := sign(t, env, "a.txt", "--put", "--private")
	assert.Regexp(t, `^/static/media/a\.txt\?X-Expires=\d+&X-Private=1&X-Signature=[\w-]+\n$`, private)

	line := failsWith(t, 1, localEnv(t), "sign", "a.txt")
	assert.Contains(t, line, "STORAGE_SIGNING_KEY")
	line = failsWith(t, 1, localEnv(t, "STORAGE_SIGNING_KEY=short"), "sign", "a.txt")
	assert.Contains(t, line, "STORAGE_SIGNING_KEY is 5 bytes long")
	failsWith(t, 2, env, "sign", "--expires", "soon", "a.txt")
	failsWith(t, 2, env, "sign", "--content-type", "text/plain", "a.txt")
	failsWith(t, 2, env, "sign", "--private", "a.txt")
}

func TestCheckLocal(t *testing.T) {
	env := localEnv(t, "STORAGE_SIGNING_KEY=0123456789abcdef0123456789abcdef")
	r := run(t, env, "", "check")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Empty(t, r.stderr)
	out := r.stdout
	assert.Contains(t, out, "Backend: local disk, because none of BUCKET_NAME, AWS_KEY, AWS_SECRET is set.")
	assert.Regexp(t, `(?m)^  STORAGE_DIR +`+absPath+`media$`, out)
	assert.Regexp(t, `(?m)^  STORAGE_SIGNING_KEY +\[redacted\]$`, out)
	assert.NotContains(t, out, "0123456789abcdef", "a secret must never be printed")
	assert.Regexp(t, `(?m)^PASS  directory: `+absPath+`media`, out)
	if runtime.GOOS == "linux" {
		assert.Regexp(t, `(?m)^PASS  attributes: extended attributes: `, out)
	} else {
		assert.Regexp(t, `(?m)^PASS  attributes: (extended attributes|file headers): `, out)
	}
	switch runtime.GOOS {
	case "linux":
		assert.Regexp(t, `(?m)^PASS  names: case-sensitive: `, out)
	case "windows", "darwin":
		assert.Regexp(t, `(?m)^PASS  names: case-insensitive: `, out)
	}
	assert.Regexp(t, `(?m)^PASS  filesystem: .* is on [a-z0-9]+`, out)
	for _, step := range []string{"write (put)", "read (get)", "delete"} {
		assert.Regexp(t, `(?m)^PASS  `+regexp.QuoteMeta(step)+`: `, out)
	}
	assert.Regexp(t, `(?m)^PASS  foreign files: none: `, out)
	assert.Contains(t, out, "INFO  signed URLs: enabled")
	assert.NotContains(t, out, "FAIL")
	assert.Contains(t, out, "All required checks passed.")
	assert.Empty(t, ok(t, env, "", "ls", "-r"), "the probe object is removed")

	t.Run("file headers", func(t *testing.T) {
		// A directory written where no extended attributes are kept.
		dir := filepath.Join(t.TempDir(), "media")
		require.NoError(t, os.Mkdir(dir, 0o755))
		if runtime.GOOS == "windows" {
			t.Skip("Windows folders are all in the file-header mode, as the test above checked")
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, `.orga-storage\mode`), []byte("attributes: file headers\n"), 0o644))
		r := run(t, cleanEnv("STORAGE_DIR="+dir), "", "check")
		require.Equal(t, 0, r.code, r.stdout)
		assert.Regexp(t, `(?m)^PASS  attributes: file headers: `, r.stdout)
		assert.Contains(t, r.stdout, "All required checks passed.")
	})

	t.Run("not writable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root writes to read-only directories")
		}
		if runtime.GOOS == "windows" {
			t.Skip("Windows folders have no write permission bit to take away")
		}
		dir := filepath.Join(t.TempDir(), "media")
		require.NoError(t, os.Mkdir(dir, 0o755))
		env := cleanEnv("STORAGE_DIR=" + dir)
		require.NoError(t, os.Chmod(dir, 0o555))
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		r := run(t, env, "", "check")
		assert.Equal(t, 1, r.code, r.stdout)
		assert.Contains(t, r.stdout, "FAIL")
		assert.Contains(t, r.stdout, "fix: ")
	})
}

func TestHalfConfigured(t *testing.T) {
	env := cleanEnv("BUCKET_NAME=uploads", "AWS_SECRET=do-not-print-me", "STORAGE_DIR="+t.TempDir())
	line := failsWith(t, 1, env, "ls")
	assert.Equal(t, "orga-storage ls: S3 is half configured: BUCKET_NAME and AWS_SECRET are set but AWS_KEY is not; "+
		"set all three of BUCKET_NAME, AWS_KEY and AWS_SECRET to use S3, or none to store files on local disk", line)

	r := run(t, env, "", "check")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "Backend: none: S3 is half configured (BUCKET_NAME, AWS_SECRET set, AWS_KEY not).")
	assert.Regexp(t, `(?m)^  AWS_SECRET +\[redacted\]$`, r.stdout)
	assert.Regexp(t, `(?m)^FAIL  configuration: S3 is half configured: BUCKET_NAME and AWS_SECRET are set but AWS_KEY is not\n      fix: set all three`, r.stdout)
	assert.NotContains(t, r.stdout+r.stderr, "do-not-print-me")
	assert.Equal(t, "orga-storage check: 1 required check failed; see the FAIL lines above\n", r.stderr)
}

// TestCheckBrokenConfig covers configurations FromEnv refuses, which it does
// without I/O: check reports them as one FAIL line with its fix, nothing else.
func TestCheckBrokenConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	s3 := []string{"BUCKET_NAME=b", "AWS_KEY=k", "AWS_SECRET=do-not-print-me"}
	for _, tt := range []struct {
		name string
		env  []string
		want string
	}{
		{"STORAGE_DIR is a file", cleanEnv("STORAGE_DIR=" + file),
			"FAIL  configuration: local directory: " + file + " is not a directory\n" +
				"      fix: set STORAGE_DIR to a directory this user can create and write\n"},
		{"short signing key", cleanEnv("STORAGE_DIR="+t.TempDir(), "STORAGE_SIGNING_KEY=short"),
			"FAIL  configuration: STORAGE_SIGNING_KEY is 5 bytes long; use at least 32 random bytes, e.g. from `openssl rand -hex 32`\n"},
		{"bad S3 endpoint", cleanEnv(append(s3, "AWS_ENDPOINT_URL_S3=ftp://x")...),
			"FAIL  configuration: invalid argument: AWS_ENDPOINT_URL_S3 \"ftp://x\" is not an http or https URL\n" +
				"      fix: correct the variable the message names (see the variables read, above)\n"},
		{"secret with a line break", cleanEnv("BUCKET_NAME=b", "AWS_KEY=k", "AWS_SECRET=do-not-print-me\n"),
			"FAIL  configuration: AWS_SECRET has white space at the start or end (a line break copied from a secrets file?)\n" +
				"      fix: remove the white space from the variable named\n"},
		{"bucket and key with spaces", cleanEnv("BUCKET_NAME= b", "AWS_KEY=k ", "AWS_SECRET=do-not-print-me"),
			"FAIL  configuration: BUCKET_NAME and AWS_KEY have white space at the start or end (a line break copied from a secrets file?)\n" +
				"      fix: remove the white space from the variable named\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, "", "check")
			require.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			assert.Equal(t, "orga-storage check: 1 required check failed; see the FAIL lines above\n", r.stderr)
			_, steps, _ := strings.Cut(r.stdout, "\n\n")
			assert.Equal(t, tt.want+"\n1 required check failed.\n", steps, "the configuration step and nothing else")
			assert.NotContains(t, r.stdout, "do-not-print-me")
		})
	}
}

func TestErrors(t *testing.T) {
	env := localEnv(t)
	for _, tt := range []struct {
		args []string
		code int
		line string
	}{
		{[]string{"get", "missing.txt"}, 1, `orga-storage get: no object "missing.txt"`},
		{[]string{"stat", "missing.txt"}, 1, `orga-storage stat: no object "missing.txt"`},
		{[]string{"cp", "missing.txt", "b.txt"}, 1, `orga-storage cp: no object "missing.txt"`},
		{[]string{"put", "no-such-file", "a.txt"}, 1, `orga-storage put: open no-such-file: ` + osError(os.Open("no-such-file"))},
		{[]string{"serve", "--addr", "256.0.0.1:1"}, 1, ""},

		// An invalid key is a mistake in the command line, as a bad flag is.
		{[]string{"put", "-", "/a.txt"}, 2, `orga-storage put: key "/a.txt": invalid key: starts with a slash`},
		{[]string{"url", "a//b"}, 2, `orga-storage url: url "a//b": invalid key: has an empty segment (//)`},
		{[]string{"rm", "-r", ""}, 2, `orga-storage rm: delete prefix "": invalid key: an empty prefix would delete everything`},
		{[]string{"rm", "events/9/"}, 2, `orga-storage rm: key "events/9/": invalid key: ends with a slash; "orga-storage rm -r events/9/" removes every object under it`},

		{[]string{}, 2, "orga-storage: missing command, one of put, get, ls, rm, cp, sync, stat, url, sign, check, serve (see orga-storage --help)"},
		{[]string{"frobnicate"}, 2, `orga-storage: unknown command "frobnicate" (see orga-storage --help)`},
		{[]string{"put", "a.txt"}, 2, `orga-storage put: want FILE and KEY, got 1 argument (see orga-storage put --help)`},
		{[]string{"get"}, 2, `orga-storage get: want KEY and an optional FILE, got 0 arguments (see orga-storage get --help)`},
		{[]string{"ls", "a", "b"}, 2, ""},
		{[]string{"ls", "--long"}, 2, `orga-storage ls: unknown flag --long (see orga-storage ls --help)`},
		{[]string{"ls", "-x"}, 2, `orga-storage ls: unknown flag -x (see orga-storage ls --help)`},
		{[]string{"sign", "a.txt", "--expires"}, 2, `orga-storage sign: flag --expires needs an argument (see orga-storage sign --help)`},
		{[]string{"rm"}, 2, ""},
		{[]string{"rm", "-r", "a/", "b/"}, 2, ""},
		{[]string{"put", "--meta", "novalue", "-", "a"}, 2, ""},
		{[]string{"check", "extra"}, 2, ""},
		{[]string{"serve", "extra"}, 2, ""},
	} {
		r := run(t, env, "", tt.args...)
		assert.Equal(t, tt.code, r.code, "%v: %s", tt.args, r.stderr)
		assert.Empty(t, r.stdout, "%v", tt.args)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "%v: one line: %q", tt.args, r.stderr)
		if tt.line != "" {
			assert.Equal(t, tt.line+"\n", r.stderr, "%v", tt.args)
		} else {
			assert.True(t, strings.HasPrefix(r.stderr, "orga-storage "+tt.args[0]+": "), "%v: %q", tt.args, r.stderr)
		}
	}
}

// TestPutPrivate: put --private prints a URL that serves the object, a
// signed one, since its plain URL answers 404; without a signing key it
// says why there is none. stat shows the object private.
func TestPutPrivate(t *testing.T) {
	env := localEnv(t, "STORAGE_SIGNING_KEY=0123456789abcdef0123456789abcdef")
	out := ok(t, env, "secret\n", "put", "-", "docs/p.txt", "--private")
	assert.Regexp(t, `^/static/media/docs/p\.txt\?X-Expires=\d+&X-Signature=[\w-]+\n$`, out)
	assert.Contains(t, ok(t, env, "", "stat", "docs/p.txt"), "Private:             yes")
	assert.Contains(t, ok(t, env, "", "stat", "--json", "docs/p.txt"), `"private": true`)
	ok(t, env, "public\n", "put", "-", "docs/q.txt")
	assert.NotContains(t, ok(t, env, "", "stat", "docs/q.txt"), "Private")

	unsigned := localEnv(t)
	r := run(t, unsigned, "secret\n", "put", "-", "docs/p.txt", "--private")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stdout, "no URL would serve it")
	assert.Contains(t, r.stderr, "no URL serves it until a signing key is set")
	assert.Contains(t, r.stderr, "STORAGE_SIGNING_KEY")
}

// TestFolderHints: a folder key given where an object's is wanted says
// what it is and what the user probably meant.
func TestFolderHints(t *testing.T) {
	env := localEnv(t)
	ok(t, env, "x", "put", "-", "events/9/a.txt")
	assert.Equal(t, `orga-storage get: no object "events/9": it is a folder ("orga-storage ls events/9/" lists it)`,
		failsWith(t, 1, env, "get", "events/9"))
	assert.Equal(t, `orga-storage stat: no object "events/9": it is a folder ("orga-storage ls events/9/" lists it)`,
		failsWith(t, 1, env, "stat", "events/9"))
	assert.Equal(t, `orga-storage rm: "events/9" is a folder, not an object: "orga-storage rm -r events/9/" removes every object under it`,
		failsWith(t, 1, env, "rm", "events/9"))
	assert.Contains(t, ok(t, env, "", "ls", "-r"), "events/9/a.txt", "nothing removed")
	ok(t, env, "", "rm", "events/9/a.txt", "events/9/gone.txt")
	assert.Empty(t, ok(t, env, "", "ls", "-r"))
}

func TestHelp(t *testing.T) {
	env := localEnv(t)
	top := ok(t, env, "", "--help")
	assert.Contains(t, top, "usage: orga-storage COMMAND")
	assert.Equal(t, top, ok(t, env, "", "help"))
	ls := ok(t, env, "", "ls", "--help")
	assert.Contains(t, ls, "\n  -r\n", "a one-letter flag is shown as usage spells it")
	assert.Contains(t, ls, "\n  --json\n")
	for _, c := range commands() {
		for _, flag := range []string{"--help", "-h"} {
			out := ok(t, env, "", c.name, flag)
			assert.True(t, strings.HasPrefix(out, "usage: orga-storage "+c.name+" "), "%s %s: %s", c.name, flag, out)
			assert.Contains(t, top, "  "+c.name+" ")
		}
		assert.Equal(t, ok(t, env, "", c.name, "--help"), ok(t, env, "", "help", c.name))
	}
	assert.Contains(t, ok(t, env, "", "put", "--help"), "--content-type type")
	assert.Contains(t, ok(t, env, "", "ls", "--help"), "JSON Lines")
}

func TestServe(t *testing.T) {
	env := localEnv(t, "STORAGE_SIGNING_KEY=0123456789abcdef0123456789abcdef", "STORAGE_URL=/files/")
	ok(t, env, "hello, world\n", "put", "-", "docs/hello.txt")
	ok(t, env, "secret\n", "put", "-", "docs/private.txt", "--private")
	signed := strings.TrimSpace(sign(t, env, "docs/private.txt"))

	cmd, base := startServe(t, env, "/files/")

	fetch := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	status, body := fetch("/files/docs/hello.txt")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "hello, world\n", body)
	status, _ = fetch("/files/docs/private.txt")
	assert.Equal(t, http.StatusNotFound, status, "a private object needs a signature")
	status, body = fetch(signed)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "secret\n", body)
	status, _ = fetch("/elsewhere/docs/hello.txt")
	assert.Equal(t, http.StatusNotFound, status)

	// Ctrl-C stops it cleanly.
	if runtime.GOOS == "windows" {
		// Its Ctrl-C comes from its console; no other process can send it.
		t.Log("Windows: Ctrl-C is not sent, no process can signal another")
		return
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on SIGINT")
	}
}

// startServe starts orga-storage serve in env, which mounts the Handler at
// mount, and returns the command and the server's origin.
func startServe(t *testing.T, env []string, mount string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = env
	cmd.Dir = t.TempDir()
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	line, err := bufio.NewReader(stderr).ReadString('\n')
	require.NoError(t, err)
	m := regexp.MustCompile(`serving the objects at (http://127\.0\.0\.1:\d+)` + regexp.QuoteMeta(mount) + `\n$`).FindStringSubmatch(line)
	require.NotNil(t, m, line)
	return cmd, m[1]
}

func TestServeNeedsLocal(t *testing.T) {
	env := cleanEnv("BUCKET_NAME=b", "AWS_KEY=k", "AWS_SECRET=s", "AWS_ENDPOINT_URL=http://127.0.0.1:1")
	line := failsWith(t, 1, env, "serve")
	assert.Contains(t, line, "serve needs the local backend")
}

func TestMeter(t *testing.T) {
	data := bytes.Repeat([]byte{'x'}, progressMin+1)
	for _, tt := range []struct {
		name     string
		terminal bool
		size     int64
		drawn    bool
	}{
		{"no terminal", false, int64(len(data)), false},
		{"small", true, 1 << 20, false},
		{"large", true, int64(len(data)), true},
		{"unknown size", true, -1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			a := &app{stderr: &stderr, progress: tt.terminal}
			src := bytes.NewReader(data)
			body, done := a.meter(src, tt.size, "put big.bin")
			n, err := io.Copy(io.Discard, body)
			done(err)
			require.NoError(t, err)
			assert.Equal(t, int64(len(data)), n)
			if tt.drawn {
				assert.Contains(t, stderr.String(), "put big.bin  ")
				if tt.size > 0 {
					assert.Contains(t, stderr.String(), " of 4.0 MiB (", "the share done")
				}
				assert.True(t, strings.HasSuffix(stderr.String(), "\r\x1b[K"), "the line is erased: %q", stderr.String())
			} else {
				assert.Empty(t, stderr.String())
				assert.Same(t, src, body, "without a bar the reader is passed through")
			}
		})
	}
}

// TestPutStdinCount: a put from stdin on a terminal says how much it
// stored, which the user typing or piping it could not see.
func TestPutStdinCount(t *testing.T) {
	t.Setenv("STORAGE_DIR", t.TempDir())
	for _, progress := range []bool{true, false} {
		var stdout, stderr bytes.Buffer
		a := &app{stdin: strings.NewReader("hello\n"), stdout: &stdout, stderr: &stderr, progress: progress}
		require.Equal(t, 0, a.main(context.Background(), []string{"put", "-", "a.txt"}), stderr.String())
		assert.Equal(t, "/static/media/a.txt\n", stdout.String())
		if progress {
			assert.Equal(t, "put a.txt: 6 B from stdin\n", stderr.String())
		} else {
			assert.Empty(t, stderr.String(), "scripts get the URL alone")
		}
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB", 1 << 62: "4.0 EiB",
	} {
		assert.Equal(t, want, humanSize(n), "%d", n)
	}
}

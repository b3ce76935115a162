package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/orga-server/storage"
)

func runCheck(ctx context.Context, a *app, args []string) error {
	flags := a.newFlags("check", `
Check reports which storage the environment selects and why (the variables
it read, secrets never shown), then checks it step by step, printing one
PASS, FAIL, SKIP or INFO line per step and, for each failure, how to fix it.

For S3: the credentials, the bucket, its region, s3:ListBucket,
s3:GetBucketLocation, and a put, get and delete of a probe object under a
unique key (removed afterwards). Then, for information only, whether the
object's public URL is readable anonymously (if not, it prints the bucket
policy that would make PREFIX public) and whether the bucket accepts ACLs.

For the local disk: the directory, its filesystem, and a put, get and delete
of a probe object.

With --origin, on S3 it also sends the CORS preflights a browser on that
origin sends before a PUT through a signed URL and before a form post (OPTIONS
with Origin and Access-Control-Request-Method), and for each that the bucket
would refuse prints the CORS rule to add. On the local disk it says whether
the uploads cross origins.

The exit status is 0 only when every required step passes; INFO lines never
fail the check.`)
	publicPrefix := flags.String("public-prefix", "", "S3: the `prefix` to probe and to make public in the suggested bucket policy (default: the whole bucket)")
	origin := flags.String("origin", "", "check that pages on this `origin` (https://host[:port]) may upload from the browser")
	timeout := flags.Duration("timeout", time.Minute, "give up after this `duration`")
	if _, err := parseN(flags, args, 0, 0, "no arguments"); err != nil {
		return err
	}
	if *publicPrefix != "" {
		// The probe key starts with the prefix, so it must be a valid one.
		if err := storage.ValidateKey(*publicPrefix + "x"); err != nil {
			return usagef("--public-prefix %q: %v", *publicPrefix, err)
		}
	}
	if *origin != "" {
		if err := parseOrigin(*origin); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	r := &report{w: a.stdout}
	st, err := describeBackend(r)
	// FromEnv returns a typed nil with its error, which a type switch would
	// take for a backend.
	if err != nil {
		detail, fix := configProblem(err)
		r.fail("configuration", detail, fix)
	} else {
		defer st.Close()
		switch st := st.(type) {
		case *storage.Local:
			checkLocal(ctx, r, st)
			if *origin != "" {
				checkLocalCORS(r, st, *origin)
			}
		case *storage.S3:
			bucketOK := checkS3(ctx, r, st, *publicPrefix)
			switch {
			case *origin == "":
			case bucketOK:
				checkS3CORS(ctx, r, st, *origin)
			default:
				r.skip("CORS", "needs the bucket and its region")
			}
		default:
			r.fail("configuration", fmt.Sprintf("unknown backend %T", st), "")
		}
	}

	fmt.Fprintln(r.w)
	if r.failed == 0 {
		fmt.Fprintln(r.w, "All required checks passed.")
		return nil
	}
	fmt.Fprintf(r.w, "%d required check%s failed.\n", r.failed, plural(r.failed))
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gave up after %v (--timeout): %w", *timeout, err)
	}
	return fmt.Errorf("%d required check%s failed; see the FAIL lines above", r.failed, plural(r.failed))
}

// describeBackend prints which backend the environment selects and why, then
// the variables FromEnv read, and returns what FromEnv returned.
func describeBackend(r *report) (storage.Storage, error) {
	vars := storage.Env()
	var set, unset []string
	chain := false
	for _, v := range vars {
		if v.Name == "STORAGE_S3_CREDENTIALS" && v.Value == "default" {
			chain = true
		}
		switch v.Name {
		case "BUCKET_NAME", "AWS_KEY", "AWS_SECRET": // these select S3
		default:
			continue
		}
		if v.Value != "" {
			set = append(set, v.Name)
		} else {
			unset = append(unset, v.Name)
		}
	}
	switch {
	case chain && len(set) == 1 && set[0] == "BUCKET_NAME":
		fmt.Fprintln(r.w, "Backend: S3, because BUCKET_NAME is set and STORAGE_S3_CREDENTIALS=default: credentials from the AWS default chain (role).")
	case chain:
		fmt.Fprintf(r.w, "Backend: none: STORAGE_S3_CREDENTIALS=default needs BUCKET_NAME alone (%s set).\n", strings.Join(set, ", "))
	case len(set) == 0:
		fmt.Fprintf(r.w, "Backend: local disk, because none of %s is set.\n", strings.Join(unset, ", "))
	case len(set) == 3:
		fmt.Fprintf(r.w, "Backend: S3, because %s are all set.\n", strings.Join(set, ", "))
	default:
		fmt.Fprintf(r.w, "Backend: none: S3 is half configured (%s set, %s not).\n",
			strings.Join(set, ", "), strings.Join(unset, ", "))
	}
	fmt.Fprintln(r.w, "Variables read:")
	width := 0
	for _, v := range vars {
		width = max(width, len(v.Name))
	}
	for _, v := range vars {
		value := v.Value
		if value == "" {
			value = "(unset)"
		}
		fmt.Fprintf(r.w, "  %-*s %s\n", width, v.Name, value)
	}
	fmt.Fprintln(r.w)
	return storage.FromEnv()
}

// configProblem splits an error of FromEnv into what is wrong and its fix.
func configProblem(err error) (detail, fix string) {
	msg := message(err)
	switch {
	case strings.Contains(msg, "half configured"):
		// The message ends with the fix; it is printed as such.
		detail, _, _ = strings.Cut(msg, "; set all three")
		fix = "set all three of BUCKET_NAME, AWS_KEY and AWS_SECRET to use S3, or unset all three to use the local disk"
		if strings.Contains(msg, "STORAGE_S3_CREDENTIALS=default") {
			fix += "; or, to use the role this program runs with (AWS default credential chain), keep BUCKET_NAME alone and set STORAGE_S3_CREDENTIALS=default"
		}
		return detail, fix
	case strings.Contains(msg, "STORAGE_S3_CREDENTIALS"):
		return msg, "for the AWS default credential chain set BUCKET_NAME and STORAGE_S3_CREDENTIALS=default and unset AWS_KEY and AWS_SECRET; for keys, unset STORAGE_S3_CREDENTIALS"
	case strings.Contains(msg, "white space at the start or end"):
		detail, _, _ = strings.Cut(msg, "; remove it")
		return detail, "remove the white space from the variable named"
	case strings.Contains(msg, "extended attributes"):
		return msg, "check the disk holding STORAGE_DIR (a full disk or an I/O error), or set STORAGE_DIR to a directory on another one"
	case strings.Contains(msg, "attribute mode"):
		return msg, "use the orga-storage build that wrote STORAGE_DIR, or restore its mode file from a backup"
	case strings.Contains(msg, "a folder of its own"):
		return msg, "set STORAGE_DIR to a folder that holds the objects only"
	case strings.Contains(msg, "local directory"):
		return msg, "set STORAGE_DIR to a directory this user can create and write"
	case strings.Contains(msg, "S3 configuration"), errors.Is(err, fs.ErrInvalid):
		return msg, "correct the variable the message names (see the variables read, above)"
	}
	return msg, ""
}

// report prints the outcome of the steps of a check and counts failures.
type report struct {
	w      io.Writer
	failed int
}

func (r *report) line(status, step, detail string) {
	fmt.Fprintf(r.w, "%-4s  %s: %s\n", status, step, detail)
}

// pass reports a required step that succeeded.
func (r *report) pass(step, detail string) { r.line("PASS", step, detail) }

// fail reports a required step that failed, and how to fix it.
func (r *report) fail(step, detail, fix string) {
	r.failed++
	r.line("FAIL", step, detail)
	if fix != "" {
		fmt.Fprintf(r.w, "      fix: %s\n", fix)
	}
}

// warn reports a finding that does not fail the check but needs a look.
func (r *report) warn(step, detail string) { r.line("WARN", step, detail) }

// skip reports a step that could not run because an earlier one failed.
func (r *report) skip(step, why string) { r.line("SKIP", step, why) }

// info reports an informational finding, which never fails the check.
func (r *report) info(step, detail string) { r.line("INFO", step, detail) }

// more prints further lines belonging to the previous step, indented.
func (r *report) more(text string) {
	for line := range strings.Lines(text) {
		fmt.Fprintf(r.w, "      %s", line)
	}
	if !strings.HasSuffix(text, "\n") {
		fmt.Fprintln(r.w)
	}
}

// probeKey returns a key no one else uses, under prefix.
func probeKey(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + "orga-storage-check/" + time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b) + ".txt"
}

// probe is one put, get and delete of a probe object, the steps that every
// backend must pass. fix returns what to do about err from the given step.
type probe struct {
	st   storage.Storage
	key  string
	body []byte
	fix  func(step string, err error) string
}

// cleanup removes the probe object whatever happened, even after Ctrl-C.
func (p *probe) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	p.st.Delete(ctx, p.key)
}

// put stores the probe object and reports whether it worked.
func (p *probe) put(ctx context.Context, r *report, step string) bool {
	_, err := p.st.Put(ctx, p.key, bytes.NewReader(p.body), &storage.PutOptions{ContentType: "text/plain; charset=utf-8"})
	if err != nil {
		r.fail(step, message(err), p.fix(step, err))
		return false
	}
	r.pass(step, fmt.Sprintf("stored the probe object %q", p.key))
	return true
}

// get reads the probe object back and compares it with what was stored.
func (p *probe) get(ctx context.Context, r *report, step string) {
	rd, err := p.st.Get(ctx, p.key)
	if err != nil {
		r.fail(step, message(err), p.fix(step, err))
		return
	}
	defer rd.Close()
	got, err := io.ReadAll(rd)
	switch {
	case err != nil:
		r.fail(step, message(err), p.fix(step, err))
	case !bytes.Equal(got, p.body):
		r.fail(step, fmt.Sprintf("read back %d bytes that differ from the %d stored", len(got), len(p.body)),
			"the storage returns other data than it was given; check for a proxy or gateway that rewrites bodies")
	default:
		r.pass(step, "read the probe object back intact")
	}
}

// delete removes the probe object and makes sure it is gone.
func (p *probe) delete(ctx context.Context, r *report, step string) {
	if err := p.st.Delete(ctx, p.key); err != nil {
		r.fail(step, message(err), p.fix(step, err))
		return
	}
	exists, err := storage.Exists(ctx, p.st, p.key)
	switch {
	case err != nil:
		r.fail(step, "deleted, but could not verify: "+message(err), p.fix(step, err))
	case exists:
		r.fail(step, "the probe object is still there after Delete", "")
	default:
		r.pass(step, "removed the probe object")
	}
}

func checkLocal(ctx context.Context, r *report, l *storage.Local) {
	var urlVar, signingSet string
	for _, v := range storage.Env() {
		switch v.Name {
		case "STORAGE_URL":
			urlVar = v.Value
		case "STORAGE_SIGNING_KEY":
			signingSet = v.Value
		}
	}
	dir := l.Dir()
	r.pass("directory", dir+" exists")
	if l.Attributes() == "file headers" {
		r.pass("attributes", "file headers: content types and metadata are kept in a header at the start of each object's file, as this file system keeps no extended attributes (or the directory was written so)")
	} else {
		r.pass("attributes", "extended attributes: content types and metadata are kept in an extended attribute of each object's file")
	}
	if l.Caseless() {
		r.pass("names", "case-insensitive: this file system takes names differing only in case for one, so a key differing only in case from a stored one (Logo.png beside logo.png) cannot be stored")
	} else {
		r.pass("names", "case-sensitive: keys differing only in case are different objects, as on S3")
	}
	if fsType, err := filesystemType(dir); err != nil {
		r.info("filesystem", "unknown: "+err.Error())
	} else {
		r.pass("filesystem", dir+" is on "+fsType)
	}

	checkForeignFiles(ctx, r, l)

	p := &probe{
		st:   l,
		key:  probeKey(""),
		body: []byte("orga-storage check probe " + time.Now().UTC().Format(time.RFC3339Nano) + "\n"),
		fix: func(step string, err error) string {
			return "make " + dir + " and the folders in it writable by this user (chown or chmod), or set STORAGE_DIR to a writable directory"
		},
	}
	defer p.cleanup(ctx)
	if p.put(ctx, r, "write (put)") {
		p.get(ctx, r, "read (get)")
		p.delete(ctx, r, "delete")
	} else {
		r.skip("read (get)", "needs the put")
		r.skip("delete", "needs the put")
	}

	u, _ := l.URL("KEY")
	r.info("URLs", fmt.Sprintf("objects get URLs like %s (STORAGE_URL %s); the application must serve the directory there, e.g. with storage.Handler or `orga-storage serve`",
		u, cmp.Or(urlVar, "unset: default /static/media/")))
	if signingSet != "" {
		r.info("signed URLs", "enabled: STORAGE_SIGNING_KEY is set")
	} else {
		r.info("signed URLs", "disabled: set STORAGE_SIGNING_KEY to 32 or more random bytes (e.g. `openssl rand -hex 32`) to use `sign` and private objects")
	}
}

// maxForeignShown bounds the foreign files check names.
const maxForeignShown = 20

// checkForeignFiles warns about files in the directory that no Put made,
// which Local neither lists nor serves: a restore or a hand-made link that
// did not do what its maker meant.
func checkForeignFiles(ctx context.Context, r *report, l *storage.Local) {
	var found []storage.ForeignFile
	var walkErr error
	for f, err := range l.ForeignFiles(ctx) {
		if err != nil {
			walkErr = cmp.Or(walkErr, err)
			continue
		}
		found = append(found, f)
	}
	if len(found) == 0 {
		if walkErr != nil {
			r.info("foreign files", "could not look in every folder: "+message(walkErr))
		} else {
			r.pass("foreign files", "none: no symbolic link, named pipe, socket, device or file with a second hard link in "+l.Dir())
		}
		return
	}
	r.warn("foreign files", fmt.Sprintf("%d file%s in %s that no Put made, which Local neither lists nor serves:", len(found), plural(len(found)), l.Dir()))
	for i, f := range found {
		if i == maxForeignShown {
			r.more(fmt.Sprintf("and %d more", len(found)-i))
			break
		}
		r.more(f.Path + ": " + f.What)
	}
	if walkErr != nil {
		r.more("could not look in every folder: " + message(walkErr))
	}
	r.more("fix: remove them or move them out; to store a file as an object, orga-storage put it")
}

// isDenied reports an access-denied error.
func isDenied(err error) bool {
	return errors.Is(err, fs.ErrPermission) || storage.S3ErrorCode(err) == "AccessDenied"
}

package main

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/orga-server/storage"
)

func runSign(ctx context.Context, a *app, args []string) error {
	flags := a.newFlags("sign", `
Sign prints what grants access to the object KEY for a limited time,
without credentials: by default a URL to download it (GET); with --put a
URL to upload it (PUT), e.g. straight from a browser or with
	curl -T FILE -H 'Content-Type: TYPE' URL
and with --post the form a browser posts a file with, as JSON: post to
"url" every field of "fields", then the file in a field named "file", last.
An upload can be bounded: --size and --md5 (or --file, which reads both
from a file) sign the exact content of a PUT, and --max-size bounds a form.
The local backend signs with STORAGE_SIGNING_KEY and serves the URL through
its Handler ("serve"); when STORAGE_URL is a path, so is the URL, and the
origin of the server that serves it goes in front.`)
	put := flags.Bool("put", false, "sign an upload (PUT) instead of a download (GET)")
	post := flags.Bool("post", false, "sign a browser form upload (POST) and print it as JSON")
	expires := flags.String("expires", "15m", "how long it is valid: a `duration` such as 30m, 1h or 7d (at most 7d)")
	var contentType string
	typeUsage := "with --put: the Content-Type `type` the upload must send (signed into the URL where the backend can); with --post: the type, or a prefix such as image/, the form allows"
	flags.StringVar(&contentType, "content-type", "", typeUsage)
	flags.StringVar(&contentType, "type", "", "the same as --content-type")
	private := flags.Bool("private", false, "with --put or --post: store the upload as a private object, as put --private does (on S3 it gets the bucket's default access unless STORAGE_ACL is set)")
	size := flags.String("size", "", "with --put: the exact `size` of the upload, in bytes or with a unit such as KiB or MB; another size is refused")
	sum := flags.String("md5", "", "with --put: the `base64` MD5 of the upload, as in Content-MD5: the upload must send that header and match it")
	file := flags.String("file", "", "sign an upload (PUT) of exactly this `file`: its size and MD5, as --size and --md5")
	downloadAs := flags.String("download-as", "", "with a download: the file `name` the browser saves it as (Content-Disposition: attachment)")
	maxSize := flags.String("max-size", "", "with --post (required): the largest file the form takes, a `size` such as 10MiB")
	minSize := flags.String("min-size", "", "with --post: the smallest file the form takes, a `size`")
	prefix := flags.Bool("prefix", false, "with --post: KEY is a prefix, and the page may post under any key that starts with it")
	pos, err := parseN(flags, args, 1, 1, "one KEY")
	if err != nil {
		return err
	}
	mode, err := signMode(flags.FlagSet, *put || *file != "", *post)
	if err != nil {
		return err
	}
	d, err := parseDuration(*expires)
	if err != nil {
		return usagef("--expires: %v", err)
	}
	// The library refuses it too, but as a failure (exit 1): it is a
	// mistake in the command line.
	if d > maxExpires {
		return usagef("--expires %s is more than 7 days, the longest a signed URL can be valid", *expires)
	}
	if *file != "" && (*size != "" || *sum != "") {
		return usagef("--file computes --size and --md5; give it alone")
	}
	sizes := map[string]int64{}
	for name, s := range map[string]string{"size": *size, "max-size": *maxSize, "min-size": *minSize} {
		if s == "" {
			continue
		}
		if sizes[name], err = parseSize(s); err != nil {
			return usagef("--%s: %v", name, err)
		}
	}
	if mode == "post" && *maxSize == "" {
		return usagef("--post needs --max-size: a form without a bound would take up to 5 GiB")
	}
	var disposition string
	if *downloadAs != "" {
		if disposition, err = attachment(*downloadAs); err != nil {
			return usagef("--download-as: %v", err)
		}
	}

	st, err := storage.FromEnv()
	if err != nil {
		return err
	}
	defer st.Close()
	key := pos[0]
	if mode == "post" {
		form, err := st.SignedPost(ctx, key, &storage.PostOptions{
			Expires: d, MaxSize: sizes["max-size"], MinSize: sizes["min-size"],
			ContentType: contentType, KeyPrefix: *prefix, Private: *private,
		})
		if err != nil {
			return err
		}
		out, err := json.MarshalIndent(struct {
			URL    string            `json:"url"`
			Fields map[string]string `json:"fields"`
		}{form.URL, form.Fields}, "", "  ")
		if err != nil {
			return err
		}
		a.notePath(form.URL)
		_, err = fmt.Fprintf(a.stdout, "%s\n", out)
		return err
	}
	opts := &storage.SignOptions{
		Method: http.MethodGet, Expires: d, ContentType: contentType, Private: *private,
		ContentLength: sizes["size"], ContentMD5: *sum, ResponseContentDisposition: disposition,
	}
	if mode == "put" {
		opts.Method = http.MethodPut
	}
	if *file != "" {
		if opts.ContentLength, opts.ContentMD5, err = sizeAndMD5(*file); err != nil {
			return err
		}
		if opts.ContentLength == 0 {
			// SignOptions takes 0 for "any size".
			return fmt.Errorf("%s is empty: sign an empty upload with --put alone", *file)
		}
	}
	u, err := st.SignedURL(ctx, key, opts)
	if err != nil {
		return err
	}
	a.notePath(u)
	_, err = fmt.Fprintln(a.stdout, u)
	return err
}

// signModes says which of sign's kinds (a download, "get"; an upload,
// "put"; a form, "post") each flag goes with; the others go with any.
var signModes = map[string]string{
	"content-type": "put post", "type": "put post", "private": "put post",
	"size": "put", "md5": "put", "download-as": "get",
	"max-size": "post", "min-size": "post", "prefix": "post",
}

// signMode returns what sign signs, and a usage error for a flag that
// does not go with it.
func signMode(flags *flag.FlagSet, put, post bool) (string, error) {
	mode := "get"
	switch {
	case put && post:
		return "", usagef("--post signs a form, --put and --file a URL: give one")
	case put:
		mode = "put"
	case post:
		mode = "post"
	}
	names := map[string]string{"get": "a download", "put": "--put or --file", "post": "--post"}
	var err error
	flags.Visit(func(f *flag.Flag) {
		modes, ok := signModes[f.Name]
		if ok && !strings.Contains(modes, mode) && err == nil {
			var with []string
			for _, m := range strings.Fields(modes) {
				with = append(with, names[m])
			}
			err = usagef("--%s goes with %s, not %s", f.Name, strings.Join(with, " or "), names[mode])
		}
	})
	return mode, err
}

// notePath says, when u is a path, what a client needs in front of it.
func (a *app) notePath(u string) {
	if strings.HasPrefix(u, "/") {
		fmt.Fprintln(a.stderr, "orga-storage sign: this is a path: prepend the origin of the server that serves STORAGE_DIR (orga-storage serve: http://127.0.0.1:8080), or set STORAGE_URL to an absolute URL")
	}
}

// parseSize parses a size in bytes: a whole number, optionally followed by
// a unit, decimal (kB or KB, MB, GB) or binary (KiB, MiB, GiB).
func parseSize(s string) (int64, error) {
	digits := strings.TrimRightFunc(s, func(r rune) bool { return !unicode.IsDigit(r) })
	units := map[string]int64{"": 1, "B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
	unit, ok := units[strings.TrimSpace(s[len(digits):])]
	n, err := strconv.ParseInt(digits, 10, 64)
	switch {
	case !ok || n < 0 || err != nil && !errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("invalid size %q: want bytes, or a number and a unit such as 10MiB", s)
	case err != nil || n > (5<<30)/unit:
		return 0, fmt.Errorf("size %q is more than 5 GiB, the largest single upload", s)
	}
	return n * unit, nil
}

// sizeAndMD5 reads name through and returns its size and the base64 of
// its MD5, as the Content-MD5 header carries it.
func sizeAndMD5(name string) (int64, string, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return 0, "", err
	} else if !fi.Mode().IsRegular() {
		return 0, "", fmt.Errorf("%s is not a regular file", name)
	}
	h := md5.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// attachment returns the Content-Disposition that makes a browser save a
// download as name, as RFC 6266 writes it: the name in filename when it is
// plain ASCII, otherwise in filename* (UTF-8, percent-encoded) after an
// ASCII stand-in for the browsers that read only filename.
func attachment(name string) (string, error) {
	if !utf8.ValidString(name) || strings.TrimSpace(name) == "" {
		return "", fmt.Errorf("%q is not a file name", name)
	}
	plain := true
	var fallback, encoded strings.Builder
	for _, r := range name {
		if unicode.IsControl(r) || r == '/' || r == '\\' {
			return "", fmt.Errorf("%q is not a file name: it has a control character or a slash", name)
		}
		if r >= utf8.RuneSelf || r == '"' || r == '%' {
			plain = false
			fallback.WriteByte('_')
		} else {
			fallback.WriteRune(r)
		}
	}
	if plain {
		return `attachment; filename="` + name + `"`, nil
	}
	for _, b := range []byte(name) {
		if isAttrChar(b) {
			encoded.WriteByte(b)
		} else {
			fmt.Fprintf(&encoded, "%%%02X", b)
		}
	}
	return `attachment; filename="` + fallback.String() + `"; filename*=UTF-8''` + encoded.String(), nil
}

// isAttrChar reports whether b stands for itself in an RFC 8187 value.
func isAttrChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", b) >= 0
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orga-server/storage"
)

func runList(ctx context.Context, a *app, args []string) error {
	flags := a.newFlags("ls", `
Ls lists the objects whose keys start with PREFIX (default: all), in byte
order of key: size, modification time and key, one per line. Like S3, it
matches bytes, not folders: "ls events/4" shows "events/4/" and "events/42/";
end PREFIX with "/" to list a folder's contents.

By default it lists one level: the keys with a further "/" after PREFIX are
grouped into one folder entry ending in "/", shown with size "-". With -r it
lists every object under PREFIX.

With --json it prints one JSON object per line (JSON Lines), for jq and
scripts: {"key", "size" in bytes, "etag", "mod_time" in RFC 3339, "is_dir"},
fields that are empty left out. A listing knows no more, as S3 lists no
more; "stat" shows the content type and the other attributes.`)
	recursive := flags.Bool("r", false, "list every object under PREFIX, not one level")
	asJSON := flags.Bool("json", false, "print one JSON object per line")
	pos, st, err := parseAndOpen(flags, args, 0, 1, "at most one PREFIX")
	if err != nil {
		return err
	}
	defer st.Close()
	var prefix string
	if len(pos) == 1 {
		prefix = pos[0]
	}
	opts := &storage.ListOptions{Delimiter: "/"}
	if *recursive {
		opts = nil
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	for info, err := range st.List(ctx, prefix, opts) {
		if err != nil {
			return err
		}
		if *asJSON {
			if err := enc.Encode(jsonInfo(info)); err != nil {
				return err
			}
			continue
		}
		size, mtime := "-", ""
		if !info.IsDir {
			size = humanSize(info.Size)
		}
		if !info.ModTime.IsZero() {
			mtime = info.ModTime.Local().Format("2006-01-02 15:04")
		}
		if _, err := fmt.Fprintf(a.stdout, "%10s  %-16s  %s\n", size, mtime, info.Key); err != nil {
			return err
		}
	}
	return nil
}

// infoJSON is an Info as ls --json and stat --json print it.
type infoJSON struct {
	Key                string            `json:"key"`
	Size               int64             `json:"size"`
	ContentType        string            `json:"content_type,omitempty"`
	ContentDisposition string            `json:"content_disposition,omitempty"`
	CacheControl       string            `json:"cache_control,omitempty"`
	ETag               string            `json:"etag,omitempty"`
	ModTime            *time.Time        `json:"mod_time,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	IsDir              bool              `json:"is_dir,omitempty"`
	Private            bool              `json:"private,omitempty"`
	URL                string            `json:"url,omitempty"`
}

func jsonInfo(info storage.Info) infoJSON {
	j := infoJSON{
		Key:                info.Key,
		Size:               info.Size,
		ContentType:        info.ContentType,
		ContentDisposition: info.ContentDisposition,
		CacheControl:       info.CacheControl,
		ETag:               info.ETag,
		Metadata:           info.Metadata,
		IsDir:              info.IsDir,
		Private:            info.Private,
	}
	if !info.ModTime.IsZero() {
		t := info.ModTime.UTC()
		j.ModTime = &t
	}
	return j
}

// humanSize formats n bytes in binary units: "512 B", "4.2 KiB", "1.0 GiB".
func humanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, unit := float64(n)/1024, 0
	for v >= 1024 && unit < 5 {
		v /= 1024
		unit++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + string("KMGTPE"[unit]) + "iB"
}

func runRemove(ctx context.Context, a *app, args []string) error {
	flags := a.newFlags("rm", `
Rm removes the objects KEY... Removing a key that holds no object is not an
error, as in S3.

With -r it removes every object whose key starts with PREFIX and prints how
many it removed. PREFIX matches bytes, not folders: "events/4" also matches
"events/42/logo.png"; end it with "/" to remove a folder. An empty PREFIX is
refused.`)
	recursive := flags.Bool("r", false, "remove every object under PREFIX")
	pos, err := parse(flags, args)
	if err != nil {
		return err
	}
	switch {
	case *recursive && len(pos) != 1:
		return usagef("-r wants one PREFIX, got %d argument%s", len(pos), plural(len(pos)))
	case len(pos) == 0:
		return usagef("want at least one KEY")
	}
	if !*recursive {
		// Every key before the first removal: a bad one further on must
		// not leave the removal half done.
		for _, key := range pos {
			if err := storage.ValidateKey(key); err != nil {
				if strings.HasSuffix(key, "/") {
					return fmt.Errorf("key %q: %w; \"orga-storage rm -r %s\" removes every object under it", key, err, key)
				}
				return fmt.Errorf("key %q: %w", key, err)
			}
		}
	}
	st, err := storage.FromEnv()
	if err != nil {
		return err
	}
	defer st.Close()
	if !*recursive {
		// A folder holds no object of its name: removing it would do
		// nothing, silently, where the user meant its contents.
		for _, key := range pos {
			if ok, err := storage.Exists(ctx, st, key); err == nil && !ok && isFolder(ctx, st, key) {
				return fmt.Errorf("%q is a folder, not an object: \"orga-storage rm -r %s/\" removes every object under it", key, key)
			}
		}
	}
	if *recursive {
		n, err := storage.DeletePrefix(ctx, st, pos[0])
		if n > 0 || err == nil {
			fmt.Fprintf(a.stdout, "removed %d object%s\n", n, plural(n))
		}
		return err
	}
	for _, key := range pos {
		if err := st.Delete(ctx, key); err != nil {
			return err
		}
	}
	return nil
}

func runStat(ctx context.Context, a *app, args []string) error {
	flags := a.newFlags("stat", `
Stat prints everything known about the object KEY: its size, content type,
content disposition, cache control, ETag, modification time, user metadata
and URL. With --json it prints them as one JSON object, with the fields of
"ls --json" and "url".`)
	asJSON := flags.Bool("json", false, "print one JSON object")
	pos, st, err := parseAndOpen(flags, args, 1, 1, "one KEY")
	if err != nil {
		return err
	}
	defer st.Close()
	key := pos[0]
	info, err := st.Stat(ctx, key)
	if err != nil {
		return objectError(ctx, st, err, key)
	}
	u, err := st.URL(key)
	if err != nil {
		return err
	}
	if *asJSON {
		j := jsonInfo(info)
		j.URL = u
		enc := json.NewEncoder(a.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(j)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Key:\t%s\n", info.Key)
	fmt.Fprintf(tw, "Size:\t%d bytes (%s)\n", info.Size, humanSize(info.Size))
	fmt.Fprintf(tw, "ContentType:\t%s\n", info.ContentType)
	fmt.Fprintf(tw, "ContentDisposition:\t%s\n", info.ContentDisposition)
	fmt.Fprintf(tw, "CacheControl:\t%s\n", info.CacheControl)
	fmt.Fprintf(tw, "ETag:\t%s\n", info.ETag)
	fmt.Fprintf(tw, "ModTime:\t%s\n", info.ModTime.Local().Format(time.RFC3339))
	label := "Metadata:"
	for _, name := range slices.Sorted(maps.Keys(info.Metadata)) {
		fmt.Fprintf(tw, "%s\t%s=%s\n", label, name, info.Metadata[name])
		label = ""
	}
	if label != "" {
		fmt.Fprintf(tw, "%s\t\n", label)
	}
	if info.Private {
		fmt.Fprintf(tw, "Private:\tyes (the URL serves it only signed: see \"orga-storage sign\")\n")
	}
	fmt.Fprintf(tw, "URL:\t%s\n", u)
	return tw.Flush()
}

func runURL(ctx context.Context, a *app, args []string) error {
	flags := a.newFlags("url", `
Url prints the public URL of the object KEY, escaped so that fetching it
returns exactly that object. It does not check that the object exists, nor
that the URL is readable without credentials ("check" tells).`)
	pos, st, err := parseAndOpen(flags, args, 1, 1, "one KEY")
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.URL(pos[0])
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(a.stdout, u)
	return err
}

// maxExpires is the longest validity of a signed URL, which SigV4 sets and
// the library keeps for every backend.
const maxExpires = 7 * 24 * time.Hour

// parseDuration is time.ParseDuration that also takes whole days, "7d".
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		// More days than a Duration holds would wrap the product around to
		// a short, or negative, duration.
		if errors.Is(err, strconv.ErrRange) && n > 0 || err == nil && n > math.MaxInt64/int64(24*time.Hour) {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}

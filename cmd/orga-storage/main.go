// Orga-storage uses the storage that the environment configures, as
// orga-server does, from the command line: it uploads, downloads, lists and
// removes objects, prints their URLs and signed URLs, checks the S3 setup
// step by step, and serves a local storage directory over HTTP.
//
// Usage:
//
//	orga-storage COMMAND [flags] [arguments]
//
// The commands are:
//
//	put FILE KEY      upload FILE ("-" for stdin) and print the object's URL
//	get KEY [FILE]    download an object to FILE, or to stdout
//	ls [PREFIX]       list objects, one level at a time (-r: all)
//	rm KEY...         remove objects (-r PREFIX: every object under PREFIX)
//	cp SRC DST        copy an object inside the storage
//	sync SRC DST [PREFIX]
//	                  copy what differs from one storage to another
//	stat KEY          show everything known about an object
//	url KEY           print an object's public URL
//	sign KEY          print a signed URL granting temporary access
//	check             check the configuration and the storage, step by step
//	serve             serve the local storage directory over HTTP
//
// The storage is chosen by [storage.FromEnv]: S3 when BUCKET_NAME, AWS_KEY
// and AWS_SECRET are set, otherwise the local directory STORAGE_DIR (default
// static/media). Run "orga-storage check" to see which one and why, and
// "orga-storage COMMAND --help" for a command's flags.
//
// Errors are reported as one line on stderr. The exit status is 2 for a
// usage error, 1 for any other failure, and 0 on success.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/orga-server/storage"
	"golang.org/x/term"
)

// command is one subcommand of orga-storage.
type command struct {
	name     string
	synopsis string // the arguments after the name, as shown in usage lines
	summary  string // one line for the command list
	run      func(ctx context.Context, app *app, args []string) error
}

// commands returns the subcommands in the order "help" lists them.
func commands() []command {
	return []command{
		{"put", "[flags] FILE KEY", "upload FILE (\"-\" for stdin) and print the object's URL", runPut},
		{"get", "KEY [FILE]", "download an object to FILE, or to stdout", runGet},
		{"ls", "[flags] [PREFIX]", "list objects, one level at a time (-r: all)", runList},
		{"rm", "[flags] KEY... | rm -r PREFIX", "remove objects, or every object under PREFIX", runRemove},
		{"cp", "SRC DST", "copy an object inside the storage", runCopy},
		{"sync", "[flags] SRC DST [PREFIX]", "copy what differs between storages: local:DIR, s3://BUCKET", runSync},
		{"stat", "[flags] KEY", "show everything known about an object", runStat},
		{"url", "KEY", "print an object's public URL", runURL},
		{"sign", "[flags] KEY", "print a signed URL granting temporary access", runSign},
		{"check", "[flags]", "check the configuration and the storage, step by step", runCheck},
		{"serve", "[flags]", "serve the local storage directory over HTTP", runServe},
	}
}

// app is what the commands share: the process's standard streams, passed
// explicitly so that nothing else is global.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// progress tells whether transfers may draw a progress bar: only when
	// stderr is a terminal.
	progress bool
	// fileRead, when a test sets it, runs after every read of a FILE that
	// put uploads: no other way lets a test change the file between two of
	// its reads at will.
	fileRead func()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal asks the command to stop cleanly, which it cannot
	// while blocked reading a pipe or a terminal; a second one then kills
	// it, as usual.
	context.AfterFunc(ctx, stop)
	a := &app{
		stdin:    os.Stdin,
		stdout:   os.Stdout,
		stderr:   os.Stderr,
		progress: term.IsTerminal(int(os.Stderr.Fd())),
	}
	code := a.main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// usageError is a mistake in the command line; it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// main runs the command line args and returns the exit status.
func (a *app) main(ctx context.Context, args []string) int {
	if len(args) == 0 {
		var names []string
		for _, c := range commands() {
			names = append(names, c.name)
		}
		fmt.Fprintf(a.stderr, "orga-storage: missing command, one of %s (see orga-storage --help)\n", strings.Join(names, ", "))
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && name == "help" {
			// "help put" is "put --help".
			return a.main(ctx, []string{args[1], "--help"})
		}
		a.usage(a.stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(ctx, a, args[1:])
		var ue *usageError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(a.stderr, "orga-storage %s: %s (see orga-storage %s --help)\n", name, ue.msg, name)
			return 2
		case errors.Is(err, storage.ErrInvalidKey):
			fmt.Fprintf(a.stderr, "orga-storage %s: %s\n", name, message(err))
			return 2
		case ctx.Err() != nil && errors.Is(err, ctx.Err()):
			fmt.Fprintf(a.stderr, "orga-storage %s: interrupted\n", name)
			return 1
		default:
			fmt.Fprintf(a.stderr, "orga-storage %s: %s\n", name, message(err))
			return 1
		}
	}
	fmt.Fprintf(a.stderr, "orga-storage: unknown command %q (see orga-storage --help)\n", name)
	return 2
}

// message returns err's text for the error line. The library starts its
// messages with "storage: ", which after "orga-storage put: " would only
// repeat the program's name.
func message(err error) string {
	return strings.TrimPrefix(err.Error(), "storage: ")
}

// objectError returns err, or for a missing object a plain message: the
// backends' own texts for it differ ("openat: no such file or directory"
// on the local disk).
func objectError(ctx context.Context, st storage.Storage, err error, key string) error {
	if errors.Is(err, fs.ErrNotExist) {
		if isFolder(ctx, st, key) {
			return fmt.Errorf("no object %q: it is a folder (\"orga-storage ls %s/\" lists it)", key, key)
		}
		return fmt.Errorf("no object %q", key)
	}
	return err
}

// isFolder reports whether objects are stored under key followed by "/".
func isFolder(ctx context.Context, st storage.Storage, key string) bool {
	for _, err := range st.List(ctx, key+"/", nil) {
		return err == nil
	}
	return false
}

func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, `orga-storage uses the storage that the environment configures, as orga-server does.

usage: orga-storage COMMAND [flags] [arguments]

commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-7s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
The storage is S3 when BUCKET_NAME, AWS_KEY and AWS_SECRET are set, otherwise
the local directory STORAGE_DIR (default static/media). "orga-storage check"
shows which one and why. "orga-storage COMMAND --help" describes a command.
`)
}

// flagSet is a command's flags and its help.
type flagSet struct {
	*flag.FlagSet
	help func()
}

// newFlags returns the flag set of a command. Its help, printed by --help,
// is the usage line followed by doc and the flags.
func (a *app) newFlags(name, doc string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package prints errors and usage itself; here a usage error is
	// one line, and help goes to stdout, so both are printed by hand.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var synopsis string
	for _, c := range commands() {
		if c.name == name {
			synopsis = c.synopsis
		}
	}
	help := func() {
		w := a.stdout
		fmt.Fprintf(w, "usage: orga-storage %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(doc))
		first := true
		fs.VisitAll(func(f *flag.Flag) {
			if first {
				fmt.Fprint(w, "\nflags:\n")
				first = false
			}
			arg, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(w, "  %s", dashed(f.Name))
			if arg != "" {
				fmt.Fprintf(w, " %s", arg)
			}
			fmt.Fprintf(w, "\n        %s", usage)
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(w, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(w)
		})
	}
	return &flagSet{fs, help}
}

// parse parses args, allowing flags after the positional arguments too
// ("put a.png logo.png --private"), and returns the positional arguments.
// After "--" everything is positional.
func parse(fs *flagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.help()
				return nil, err
			}
			return nil, &usageError{flagError(err)}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// dashed returns a flag's name as the help and errors spell it: -r, --json.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// flagError rewrites the flag package's messages, which spell every flag
// with one dash as Go programs do, in the spelling of this command's help.
func flagError(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag " + dashed(name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "flag " + dashed(name) + " needs an argument"
	}
	return msg
}

// parseN is parse for a command taking between min and max positional
// arguments (max < 0: no limit), named by what for the error message.
func parseN(fs *flagSet, args []string, min, max int, what string) ([]string, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		return nil, usagef("want %s, got %d argument%s", what, len(pos), plural(len(pos)))
	}
	return pos, nil
}

// parseAndOpen is parseN followed by storage.FromEnv, the start of every
// command that works on objects: usage errors come before configuration ones.
func parseAndOpen(fs *flagSet, args []string, min, max int, what string) ([]string, storage.Storage, error) {
	pos, err := parseN(fs, args, min, max, what)
	if err != nil {
		return nil, nil, err
	}
	st, err := storage.FromEnv()
	if err != nil {
		return nil, nil, err
	}
	return pos, st, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Package reliability records what the fault and attack tests did, one row
// per fault or attack, and writes the rows into RELIABILITY.md when a test
// run asks for it with -reliability.report=PATH.
//
// Each test binary owns one section of the file, between the markers
//
//	<!-- BEGIN name -->
//	<!-- END name -->
//
// and rewrites only that section, so that the root package's tests and the
// faulttest module's can update the same file. A section holds the rows of
// the last run in the order the tests finished; run the whole package, not a
// -run subset, to regenerate it.
package reliability

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

var reportPath = flag.String("reliability.report", "",
	"rewrite this binary's section of `file` (RELIABILITY.md) with the rows recorded by the run")

// Row is one line of the report.
type Row struct {
	Fault      string // what was injected or attempted
	Behaviour  string // what the library did, as observed by the test
	Invariants string // what the test checked afterwards
	Result     string // "pass", "FAIL" or "skipped", from the test's outcome
}

var (
	mu       sync.Mutex
	sections = map[string][]Row{}
)

// Entry is a row in the making; the test fills in what it observed.
type Entry struct {
	mu  sync.Mutex
	row Row
}

// Observe sets what the library did. Later calls replace earlier ones.
func (e *Entry) Observe(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.row.Behaviour = fmt.Sprintf(format, args...)
}

// Record starts a row of section for the test t. The row is completed when
// t ends, with the test's result, and the report is rewritten then if the
// run asked for it. The result comes from t.Failed, so a fault whose
// invariants did not hold shows as FAIL in the report, and the run fails.
func Record(t testing.TB, section, fault, invariants string) *Entry {
	e := &Entry{row: Row{Fault: fault, Invariants: invariants}}
	t.Cleanup(func() {
		e.mu.Lock()
		row := e.row
		e.mu.Unlock()
		switch {
		case t.Failed():
			row.Result = "FAIL"
		case t.Skipped():
			row.Result = "skipped"
		default:
			row.Result = "pass"
		}
		if row.Behaviour == "" {
			row.Behaviour = "(not recorded)"
		}
		mu.Lock()
		defer mu.Unlock()
		sections[section] = append(sections[section], row)
		if *reportPath == "" {
			return
		}
		if err := rewrite(*reportPath, section, sections[section]); err != nil {
			t.Errorf("reliability report: %v", err)
		}
	})
	return e
}

// rewrite replaces section in the file at path with rows, appending the
// section when the file lacks it and creating the file when missing.
func rewrite(path, section string, rows []Row) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	begin := "<!-- BEGIN " + section + " -->\n"
	end := "<!-- END " + section + " -->\n"
	var b bytes.Buffer
	b.WriteString(begin)
	b.WriteString("| Fault or attack | What the library did | Invariants checked | Result |\n")
	b.WriteString("|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(r.Fault), cell(r.Behaviour), cell(r.Invariants), r.Result)
	}
	b.WriteString(end)

	var out []byte
	i := bytes.Index(old, []byte(begin))
	j := bytes.Index(old, []byte(end))
	switch {
	case i >= 0 && j > i:
		out = append(out, old[:i]...)
		out = append(out, b.Bytes()...)
		out = append(out, old[j+len(end):]...)
	case len(old) > 0:
		out = append(old, '\n')
		out = append(out, b.Bytes()...)
	default:
		out = append([]byte("# Reliability\n\n"), b.Bytes()...)
	}
	// Write then rename, so that a run killed midway leaves the old report.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// cell makes s safe in a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

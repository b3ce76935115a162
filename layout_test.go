package storage_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// fileKind is the backend a file of package storage belongs to, by its
// name's prefix, or "shared".
func fileKind(name string) string {
	switch {
	case strings.HasPrefix(name, "s3"):
		return "s3"
	case strings.HasPrefix(name, "local"):
		return "local"
	}
	return "shared"
}

// chooses lists what shared code may name of a backend: FromEnv, which
// picks one, and Sync, which lists a *Local itself (the type exactly, not
// one embedding it; see syncList).
var chooses = map[string]bool{
	"env.go localFromEnv": true, "env.go s3ChainFromEnv": true, "env.go s3KeysFromEnv": true,
	"sync.go Local": true,
}

// TestCodeLayout holds the README's code layout: no backend's file uses
// another backend's names, shared files use neither backend's (but for
// chooses), and a test file is in package storage exactly
// when its name ends in _internal_test.go, or it is an export*_test.go.
func TestCodeLayout(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	defined := map[string]map[string]bool{} // name -> kinds of the files defining it
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "_test.go") {
			internal := strings.HasSuffix(name, "_internal_test.go") || strings.HasPrefix(name, "export")
			if got := f.Name.Name; internal != (got == "storage") {
				t.Errorf("%s is in package %s: tests in package storage end in _internal_test.go (or are export*_test.go), the others are in storage_test", name, got)
			}
			continue
		}
		files[name] = f
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					define(defined, d.Name.Name, name)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch spec := spec.(type) {
					case *ast.TypeSpec:
						define(defined, spec.Name.Name, name)
					case *ast.ValueSpec:
						for _, id := range spec.Names {
							define(defined, id.Name, name)
						}
					}
				}
			}
		}
	}
	var bad []string
	for name, f := range files {
		kind := fileKind(name)
		seen := map[string]bool{}
		// Names of other files are the ones the parser left unresolved.
		for _, id := range f.Unresolved {
			kinds := defined[id.Name]
			if kinds == nil || kinds[kind] || kinds["shared"] || seen[id.Name] || chooses[name+" "+id.Name] {
				continue
			}
			seen[id.Name] = true
			bad = append(bad, name+" uses "+id.Name+" of another backend's file")
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}

func define(defined map[string]map[string]bool, id, file string) {
	if defined[id] == nil {
		defined[id] = map[string]bool{}
	}
	defined[id][fileKind(file)] = true
}

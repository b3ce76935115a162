//go:build wine

package main

import _ "unsafe" // go:linkname

// Wine 8 lacks the POSIX delete that os.Root.Remove makes on Windows 10 and
// later. scripts/wine builds the command and its tests with -tags wine (and
// -ldflags=-checklinkname=0) so that Go's runtime deletes through its
// fallback instead; see wine_windows_test.go in the root package. No release
// build has the tag.
//
//go:linkname deleteatFallback internal/syscall/windows.TestDeleteatFallback
var deleteatFallback bool

var _ = func() bool { deleteatFallback = true; return true }()

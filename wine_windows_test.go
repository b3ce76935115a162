//go:build wine

package storage_test

import _ "unsafe" // go:linkname

// Wine 8 lacks the POSIX delete (NtSetInformationFile with
// FileDispositionInformationEx) that os.Root.Remove and os.RemoveAll make on
// Windows 10 and later, and answers "Invalid function". scripts/wine builds
// the tests with -tags wine (and -ldflags=-checklinkname=0), and this makes
// Go's runtime take the fallback it has for systems without that call: the
// library is the same, only the runtime's way to delete differs.
//
//go:linkname deleteatFallback internal/syscall/windows.TestDeleteatFallback
var deleteatFallback bool

var _ = func() bool { deleteatFallback = true; return true }()

//go:build !windows

package storage

import (
	"path/filepath"
	"strings"
)

// exampleDir is a directory to suggest for the objects.
const exampleDir = "/var/lib/orga/media"

// systemDir says what dir, an absolute and clean path, is when it is the
// root of the file system or a directory the system keeps its own files
// in, or returns "". Folders below them are not refused: /var/lib/orga is
// one for data.
func systemDir(dir string) string {
	switch dir {
	case "/":
		return "the root of the file system"
	case "/bin", "/boot", "/dev", "/etc", "/home", "/opt", "/proc", "/root", "/run", "/sbin", "/sys", "/usr", "/var",
		// macOS
		"/Applications", "/Library", "/System", "/Users", "/private", "/private/etc", "/private/var":
		return "a system directory"
	}
	if filepath.Dir(dir) == "/" && strings.HasPrefix(filepath.Base(dir), "lib") {
		return "a system directory" // /lib, /lib32, /lib64, /libx32
	}
	return ""
}

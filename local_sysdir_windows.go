package storage

import (
	"os"
	"path/filepath"
	"strings"
)

// exampleDir is a directory to suggest for the objects.
const exampleDir = `C:\orga\media`

// systemDir says what dir, an absolute and clean path, is when it is the
// root of a drive or a directory Windows keeps its own files in, or
// returns "".
func systemDir(dir string) string {
	vol := filepath.VolumeName(dir)
	if dir == vol || dir == vol+`\` {
		return "the root of a drive"
	}
	if strings.EqualFold(dir, vol+`\Users`) {
		return "a system directory"
	}
	for _, v := range []string{"SystemRoot", "ProgramFiles", "ProgramFiles(x86)", "ProgramData"} {
		if d := os.Getenv(v); d != "" && strings.EqualFold(dir, filepath.Clean(d)) {
			return "a system directory"
		}
	}
	return ""
}

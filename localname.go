package storage

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// checkLocalKey validates key for a Local: the key rules of every backend
// ([ValidateKey]), and on Windows the names that Windows cannot keep (see
// [Local]). The error wraps [ErrInvalidKey] and says which rule key breaks.
// It does no I/O, so a key the file system cannot store fails before any.
func checkLocalKey(key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if reason := nameProblem(seg); reason != "" {
			return fmt.Errorf("%w: %s", ErrInvalidKey, reason)
		}
	}
	return nil
}

// windowsMark stands, in the names of Local's own files on Windows, for the
// backslash that they hold elsewhere: Windows file names cannot hold a
// backslash, and keys cannot hold this character there. U+F05C is where
// Cygwin and Windows' Services for Macintosh keep a backslash in a name.
const windowsMark = "\uf05c"

// windowsNameProblem returns why Windows cannot keep seg, a segment of a
// valid key, as a file or folder name, or "" when it can. Such a name could
// not be created, or would silently name another file: Windows drops a
// trailing dot or space ("a." is "a"), and opens a device for "NUL.txt".
func windowsNameProblem(seg string) string {
	if i := strings.IndexAny(seg, `<>:"|?*`); i >= 0 {
		return fmt.Sprintf("segment %q holds %q, which Windows file names cannot hold", seg, seg[i])
	}
	if strings.Contains(seg, windowsMark) {
		return fmt.Sprintf("segment %q holds U+F05C, which Local on Windows keeps for its own files", seg)
	}
	switch seg[len(seg)-1] {
	case '.':
		return fmt.Sprintf("segment %q ends with a dot, which Windows drops from file names", seg)
	case ' ':
		return fmt.Sprintf("segment %q ends with a space, which Windows drops from file names", seg)
	}
	if windowsDevice(seg) {
		return fmt.Sprintf("segment %q is a Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9), with or without an extension", seg)
	}
	return ""
}

// windowsDevice reports whether Windows may open a device for the name: a
// device name, then spaces, then nothing or an extension. Windows 11 no
// longer does so for most names with an extension, Windows 10 does: both
// are refused, so that a directory moves between them whole.
func windowsDevice(name string) bool {
	base, _, _ := strings.Cut(name, ".")
	base = strings.TrimRight(base, " ")
	switch {
	case len(base) == 3:
		return strings.EqualFold(base, "CON") || strings.EqualFold(base, "PRN") ||
			strings.EqualFold(base, "AUX") || strings.EqualFold(base, "NUL")
	case strings.EqualFold(base, "CONIN$") || strings.EqualFold(base, "CONOUT$"):
		return true
	case len(base) < 4 || !(strings.EqualFold(base[:3], "COM") || strings.EqualFold(base[:3], "LPT")):
		return false
	}
	// A digit, or ¹, ² or ³, which Windows counts as digits here.
	switch r, n := utf8.DecodeRuneInString(base[3:]); {
	case 3+n != len(base):
		return false
	default:
		return '0' <= r && r <= '9' || r == '¹' || r == '²' || r == '³'
	}
}

//go:build !windows

package storage

// nameMark is the character in the names of Local's own files (temporary
// files, the mode file) that no key segment holds: keys cannot hold a
// backslash.
const nameMark = `\`

// nameProblem returns why the file system cannot keep seg, a segment of a
// valid key, as a file or folder name, or "". Every valid key segment of up
// to 255 bytes is a name here (see checkNameLengths for longer ones).
func nameProblem(string) string { return "" }

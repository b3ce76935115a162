package storage

// nameMark is the character in the names of Local's own files (temporary
// files, the mode file) that no key segment holds.
const nameMark = windowsMark

// nameProblem returns why the file system cannot keep seg, a segment of a
// valid key, as a file or folder name, or "".
func nameProblem(seg string) string { return windowsNameProblem(seg) }

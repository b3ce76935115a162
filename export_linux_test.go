package storage

// WithoutOpenat2 makes l open files through its os.Root only, as on a
// kernel without openat2, so that tests cover that path too.
func WithoutOpenat2(l *Local) {
	l.files.close()
	l.files = beneath{root: l.root, fd: -1}
}

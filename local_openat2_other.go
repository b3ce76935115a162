//go:build !linux

package storage

import (
	"io/fs"
	"os"
)

// beneath opens files below the Local's directory through its os.Root.
type beneath struct{ root *os.Root }

func newBeneath(root *os.Root, _ string) beneath { return beneath{root} }

func (b beneath) open(name string) (*os.File, error) { return openInRoot(b.root, name) }

func (b beneath) describe(mode attrMode, key string) (localAttrs, fs.FileInfo, error) {
	return describeInRoot(mode, b.root, key)
}

func (b beneath) close() {}

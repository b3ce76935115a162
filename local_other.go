//go:build !linux

package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Local keeps attributes in Linux extended attributes; elsewhere NewLocal
// fails with this error rather than lose them.
var errNoAttr = fmt.Errorf("extended attributes are supported on Linux only: %w", errors.ErrUnsupported)

func setAttr(*os.File, string, []byte) error { return errNoAttr }
func getAttr(int, string) ([]byte, error)    { return nil, errNoAttr }
func attrsReadable(*os.File) error           { return errNoAttr }
func lockFile(*os.File, bool) error          { return nil }
func unlinked(*os.File) (bool, error)        { return false, nil }

// beneath opens files below the Local's directory through its os.Root.
type beneath struct{ root *os.Root }

func newBeneath(root *os.Root, _ string) beneath { return beneath{root} }

func (b beneath) open(name string) (*os.File, error) { return b.root.Open(name) }

func (b beneath) describe(key string) (localAttrs, fs.FileInfo, error) {
	return describeInRoot(b.root, key)
}

func (b beneath) close() {}

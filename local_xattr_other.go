//go:build !linux && !darwin && !freebsd

package storage

import (
	"errors"
	"fmt"
	"os"
)

// errNoAttr reports that Local knows no extended attributes here: NewLocal
// keeps attributes in file headers instead.
var errNoAttr = fmt.Errorf("extended attributes are supported on Linux, macOS and FreeBSD only: %w", errors.ErrUnsupported)

func setAttr(*os.File, string, []byte) error { return errNoAttr }
func getAttr(int, string) ([]byte, error)    { return nil, errNoAttr }
func attrsReadable(*os.File) error           { return errNoAttr }

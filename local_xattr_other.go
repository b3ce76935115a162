//go:build !linux

package storage

import (
	"errors"
	"fmt"
	"os"
)

// Local keeps attributes in Linux extended attributes; elsewhere NewLocal
// fails with this error rather than lose them.
var errNoAttr = fmt.Errorf("extended attributes are supported on Linux only: %w", errors.ErrUnsupported)

func setAttr(*os.File, string, []byte) error { return errNoAttr }
func getAttr(int, string) ([]byte, error)    { return nil, errNoAttr }
func attrsReadable(*os.File) error           { return errNoAttr }

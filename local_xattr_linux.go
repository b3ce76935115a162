package storage

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// errNoAttr reports a file without the attribute asked for.
var errNoAttr = unix.ENODATA

func setAttr(f *os.File, name string, value []byte) error {
	return unix.Fsetxattr(int(f.Fd()), name, value, 0)
}

func getAttr(fd int, name string) ([]byte, error) {
	buf := make([]byte, 512)
	for {
		n, err := unix.Fgetxattr(fd, name, buf)
		switch {
		case err == nil:
			return buf[:n], nil
		case errors.Is(err, unix.ERANGE):
			size, err := unix.Fgetxattr(fd, name, nil)
			if err != nil {
				return nil, err
			}
			buf = make([]byte, size)
		default:
			return nil, err
		}
	}
}

// attrsReadable reports whether f's filesystem keeps extended attributes,
// without writing one: asking for a missing attribute is answered ENODATA
// where attributes are kept, and ENOTSUP where they are not.
func attrsReadable(f *os.File) error {
	_, err := unix.Fgetxattr(int(f.Fd()), attrName, nil)
	if err == nil || errors.Is(err, unix.ENODATA) {
		return nil
	}
	return err
}

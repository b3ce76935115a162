//go:build linux || darwin || freebsd

package storage

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

func setAttr(f *os.File, name string, value []byte) error {
	return unix.Fsetxattr(int(f.Fd()), name, value, 0)
}

func getAttr(fd int, name string) ([]byte, error) {
	buf := make([]byte, 512)
	for {
		n, err := unix.Fgetxattr(fd, name, buf)
		switch {
		case err == nil && n < len(buf):
			return buf[:n], nil
		case err == nil, errors.Is(err, unix.ERANGE):
			// Linux and macOS say ERANGE when buf is too small; FreeBSD
			// fills it and says nothing, so a full buf is asked again.
			size, serr := unix.Fgetxattr(fd, name, nil)
			if serr != nil {
				return nil, serr
			}
			if err == nil && size <= n {
				return buf[:n], nil
			}
			buf = make([]byte, size+1)
		default:
			return nil, err
		}
	}
}

// attrsReadable reports whether f's filesystem keeps extended attributes,
// without writing one: asking for a missing attribute is answered errNoAttr
// where attributes are kept, and ENOTSUP where they are not.
func attrsReadable(f *os.File) error {
	_, err := unix.Fgetxattr(int(f.Fd()), attrName, nil)
	if err == nil || errors.Is(err, errNoAttr) {
		return nil
	}
	return err
}

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

func getAttr(f *os.File, name string) ([]byte, error) {
	buf := make([]byte, 512)
	for {
		n, err := unix.Fgetxattr(int(f.Fd()), name, buf)
		switch {
		case err == nil:
			return buf[:n], nil
		case errors.Is(err, unix.ERANGE):
			size, err := unix.Fgetxattr(int(f.Fd()), name, nil)
			if err != nil {
				return nil, err
			}
			buf = make([]byte, size)
		default:
			return nil, err
		}
	}
}

// lockFile takes an exclusive advisory lock on f, waiting for it when wait is
// set. The kernel drops the lock when the process dies, however it dies.
func lockFile(f *os.File, wait bool) error {
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	return unix.Flock(int(f.Fd()), how)
}

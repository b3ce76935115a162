package storage

import "golang.org/x/sys/windows"

// errRefused is the error of a dial that the server's host refused: on
// Windows WSAECONNREFUSED, which syscall.ECONNREFUSED is not.
const errRefused = windows.WSAECONNREFUSED

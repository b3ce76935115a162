package storage_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestS3Unreachable: a server that cannot be reached is named as such,
// whether or not the region is known yet, and the network error stays
// reachable through errors.Is and errors.As.
func TestS3Unreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	for _, region := range []string{"", "us-east-1"} {
		s, err := storage.NewS3(context.Background(), storage.S3Config{
			Bucket: "media", AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret("secret-value"),
			Endpoint: "http://" + addr, Region: region,
		})
		require.NoError(t, err)
		_, err = s.Stat(context.Background(), "a.txt")
		assert.EqualError(t, err, `storage: stat "a.txt": cannot reach http://`+addr+`: connection refused`, "region %q", region)
		assert.ErrorIs(t, err, connRefused(), "the system's own error, for errors.Is")
		var opErr *net.OpError
		assert.ErrorAs(t, err, &opErr)
	}

	s, err := storage.NewS3(context.Background(), storage.S3Config{
		Bucket: "media", AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret("secret-value"),
		Endpoint: "http://no-such-host.invalid", Region: "us-east-1",
	})
	require.NoError(t, err)
	_, err = s.Stat(context.Background(), "a.txt")
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), `storage: stat "a.txt": cannot reach http://no-such-host.invalid: `), "%v", err)
	var dnsErr *net.DNSError
	assert.True(t, errors.As(err, &dnsErr), "%v", err)
}

// connRefused is the error of a refused connection on this system:
// WSAECONNREFUSED on Windows, which syscall.ECONNREFUSED is not.
func connRefused() error {
	if runtime.GOOS == "windows" {
		return syscall.Errno(10061) // WSAECONNREFUSED
	}
	return syscall.ECONNREFUSED
}

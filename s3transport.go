package storage

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// The defaults of the HTTP client an S3 uses when S3Config.HTTPClient is
// unset. None is an overall deadline on a request: a Get or Put moving a
// large object for an hour must not be cut, so the caller's context is what
// bounds an operation. Each bounds a step at which nothing moves.
const (
	// s3DialTimeout bounds the TCP connect: a server that does not accept
	// within it is down or filtered, and the retryer tries again.
	s3DialTimeout = 10 * time.Second
	// s3TLSHandshakeTimeout bounds the TLS handshake after the connect.
	s3TLSHandshakeTimeout = 10 * time.Second
	// s3ResponseHeaderTimeout bounds the wait for the response headers
	// once the request, body included, has been sent: S3 answers within
	// seconds even a CompleteMultipartUpload or a large CopyObject, whose
	// 200 comes first and whose outcome follows in the body. It never
	// runs while an upload's body is being sent or a download's body is
	// being read.
	s3ResponseHeaderTimeout = time.Minute
	// s3IdleConnsPerHost keeps enough idle connections for the requests
	// the library runs at once against one host: a Put's s3Concurrency
	// parts, for many Puts and Gets of a server; Go's default of 2 would
	// reconnect (and redo TLS) for most requests.
	s3IdleConnsPerHost = 32
	// s3IdleConnTimeout closes connections idle that long, as Go's
	// DefaultTransport does: the server may close them first, and a
	// request that finds its connection closed is sent again on a new one.
	s3IdleConnTimeout = 90 * time.Second
)

// newS3HTTPClient returns the default HTTP client of the S3 backend, with
// the timeouts above, the proxy of HTTPS_PROXY and NO_PROXY, and TLS 1.2 at
// least, as the SDK's own client has.
func newS3HTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: s3DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   s3TLSHandshakeTimeout,
		ResponseHeaderTimeout: s3ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   s3IdleConnsPerHost,
		IdleConnTimeout:       s3IdleConnTimeout,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}}
}

// Package faulttest holds the fault-injection tests of the S3 backend: they
// put Shopify's toxiproxy (in-process) or an HTTP fault proxy between the
// backend and a MinIO server, break the connection, the latency, the
// bandwidth or the responses, kill and restart MinIO, and check afterwards
// that nothing was lost, half written, left open or leaked.
//
// It is a module of its own so that toxiproxy and its dependencies stay out
// of the library's go.mod. Run it with MinIO, as scripts/test does:
//
//	scripts/minio start && . .minio/env && (cd faulttest && go test -race ./...)
//
// Without MinIO the tests skip; with CI=true they fail instead. With
// -reliability.report=../RELIABILITY.md the run rewrites its section of the
// reliability report.
package faulttest

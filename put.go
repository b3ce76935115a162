package storage

import (
	"context"
	"io"
)

// PreparePut does the checks and work every Put shares, before any I/O, for
// backends written elsewhere: it validates key and opts, fails once ctx is done,
// and returns opts with ContentType resolved (given, else from the key's
// extension, else sniffed) and Metadata names lowered, and a reader of r's bytes
// that fails once ctx is done and labels r's errors "reading the body: …". The
// caller wraps its errors in an [*OpError].
func PreparePut(ctx context.Context, key string, r io.Reader, opts *PutOptions) (PutOptions, io.Reader, error) {
	opts, err := checkPut(key, opts)
	if err != nil {
		return PutOptions{}, nil, err
	}
	if err := ctx.Err(); err != nil {
		return PutOptions{}, nil, err
	}
	contentType, body, err := detectContentType(key, opts.ContentType, &bodyReader{ctx: ctx, r: r})
	if err != nil {
		return PutOptions{}, nil, err
	}
	prepared := *opts
	prepared.ContentType = contentType
	prepared.Metadata = lowerMetadata(opts.Metadata, sameValue)
	return prepared, body, nil
}

// Validate reports whether SignedURL accepts opts, with an error wrapping
// fs.ErrInvalid. Nil is valid.
func (opts *SignOptions) Validate() error {
	_, err := parseSignOptions(opts)
	return err
}

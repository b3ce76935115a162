package storage

import (
	"context"
	"io"
)

// PreparePut does the work that every Put shares, before any I/O, so that a
// backend written outside this package stores the same objects as those in
// it. It validates key (see [ValidateKey]) and opts (see
// [PutOptions.Validate]), fails with ctx's error once ctx is done, and
// resolves the content type: opts.ContentType, else the one of the key's
// extension, else one sniffed from the first 512 bytes of r.
//
// It returns a copy of opts with ContentType set and Metadata names in lower
// case, and a reader that yields all of r's bytes, fails with ctx's error
// once ctx is done, and labels r's own errors "reading the body: …". Its
// errors are not wrapped in an [*OpError]: the calling Put wraps them.
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

// Validate reports whether SignedURL accepts the options, as documented on
// [SignOptions]; a nil *SignOptions is valid. The error wraps fs.ErrInvalid.
func (opts *SignOptions) Validate() error {
	_, err := parseSignOptions(opts)
	return err
}

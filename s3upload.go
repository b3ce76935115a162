package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// uploadClient is the client the transfer manager drives. It closes the two
// ways a failed Put could otherwise leave a multipart upload open, storing
// parts nobody can see and everybody pays for:
//
//   - the caller gives up while CreateMultipartUpload is in flight: the
//     server may create the upload, but its ID would never arrive;
//   - the server is unreachable for a few seconds when the upload fails:
//     the SDK's few quick retries of AbortMultipartUpload would all fail.
//
// A process killed mid-upload still leaves one; a bucket lifecycle rule
// (AbortIncompleteMultipartUpload) removes those, see the README. So does an
// abort that fails for good (access denied, or a server unreachable for
// longer than s3AbortTimeout): the transfer manager drops that error, so
// uploadClient keeps it in unaborted, under the upload's ID, for the Put
// to report (see leftOpen).
//
// With an uploadJournal in the context of the Put (see Sync), it records in
// it every upload it begins and when each ends, so that the next Sync aborts
// those a killed one left open.
//
// A CompleteMultipartUpload that fails is kept from the transfer manager,
// which would print it with the standard library's global log, out of reach
// of S3Config.Logger: uploadClient keeps the error in incomplete and answers
// with an empty output, and the Put aborts the upload and reports the error
// (see completeFailed).
type uploadClient struct {
	*s3.Client
	unaborted  *sync.Map    // upload ID → error of its abort
	journaled  *sync.Map    // upload ID → journaledUpload, until it ends
	incomplete *sync.Map    // upload ID → error of its CompleteMultipartUpload
	log        *slog.Logger // see S3Config.Logger
}

// CreateMultipartUpload waits for the server's answer even after ctx is
// done, in the background so that the Put still returns at once, and aborts
// the upload that answer names if the Put has given up by then.
func (c uploadClient) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	type result struct {
		out *s3.CreateMultipartUploadOutput
		err error
	}
	journal := journalFrom(ctx, in.Bucket)
	var seq int
	if journal != nil {
		seq = journal.intend(aws.ToString(in.Key))
	}
	// Unbuffered: a delivered answer is one the caller took, and so owns.
	answer := make(chan result)
	// Bounded like the abort, so that a server that never answers cannot
	// keep the goroutine forever.
	detached, cancel := context.WithTimeout(context.WithoutCancel(ctx), s3AbortTimeout)
	go func() {
		defer cancel()
		out, err := c.Client.CreateMultipartUpload(detached, in, opts...)
		if journal != nil {
			switch {
			case err == nil:
				journal.created(seq, aws.ToString(out.UploadId))
			case refusedForGood(err):
				journal.ended(seq) // the server began no upload
			}
		}
		// Known before the caller has the ID, which it completes with.
		journaled := err == nil && journal != nil && c.journaled != nil
		if journaled {
			c.journaled.Store(aws.ToString(out.UploadId), journaledUpload{journal, seq})
		}
		select {
		case answer <- result{out, err}:
		case <-ctx.Done():
			if journaled {
				c.journaled.Delete(aws.ToString(out.UploadId))
			}
			if err == nil {
				// Nobody will use this upload: the Put returned already.
				_, err := c.abort(detached, &s3.AbortMultipartUploadInput{
					Bucket: in.Bucket, Key: in.Key, UploadId: out.UploadId, ExpectedBucketOwner: in.ExpectedBucketOwner,
				}, opts...)
				if err == nil && journal != nil {
					journal.ended(seq)
				}
			}
		}
	}()
	select {
	case r := <-answer:
		return r.out, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// CompleteMultipartUpload completes the upload and records its end in its
// journal.
func (c uploadClient) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	out, err := c.Client.CompleteMultipartUpload(ctx, in, opts...)
	if err == nil {
		c.ended(aws.ToString(in.UploadId))
	}
	if err != nil && c.incomplete != nil {
		c.incomplete.Store(aws.ToString(in.UploadId), err)
		return &s3.CompleteMultipartUploadOutput{}, nil
	}
	return out, err
}

// completeFailed returns the error of the upload uploadID's
// CompleteMultipartUpload, if it failed, once the upload is aborted (or
// could not be, which the error then says too); nil when it succeeded.
func (s *S3) completeFailed(ctx context.Context, c *s3Clients, bucket, key, uploadID string) error {
	v, failed := c.up.incomplete.LoadAndDelete(uploadID)
	if !failed {
		return nil
	}
	err := s.translate(ctx, v.(error), "s3:PutObject")
	detached, cancel := context.WithTimeout(context.WithoutCancel(ctx), s3AbortTimeout)
	defer cancel()
	// Through the uploader's client, so that the journal learns of the
	// abort; but its error is returned here, not kept for UploadObject.
	up := c.up
	up.unaborted = nil
	if _, abortErr := up.AbortMultipartUpload(detached, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
	}); abortErr != nil {
		return s.leftOpen(err, uploadID, abortErr)
	}
	return err
}

// ended records the end of the upload in its journal, if any.
func (c uploadClient) ended(uploadID string) {
	if c.journaled == nil {
		return
	}
	if u, ok := c.journaled.LoadAndDelete(uploadID); ok {
		u := u.(journaledUpload)
		u.journal.ended(u.seq)
	}
}

// AbortMultipartUpload aborts as abort does, and keeps the error of an
// abort that failed in unaborted.
func (c uploadClient) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	out, err := c.abort(ctx, in, opts...)
	if err != nil && c.unaborted != nil {
		c.unaborted.Store(aws.ToString(in.UploadId), err)
	}
	if err == nil {
		c.ended(aws.ToString(in.UploadId))
	}
	return out, err
}

// abort aborts the upload and logs the outcome: see abortRetrying.
func (c uploadClient) abort(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	out, err := c.abortRetrying(ctx, in, opts...)
	if log := orDiscard(c.log); err != nil {
		log.WarnContext(ctx, "s3: a multipart upload is left open, its parts stored until removed",
			"bucket", aws.ToString(in.Bucket), "key", aws.ToString(in.Key), "upload", aws.ToString(in.UploadId), "error", err)
	} else {
		log.DebugContext(ctx, "s3: aborted a multipart upload",
			"bucket", aws.ToString(in.Bucket), "key", aws.ToString(in.Key), "upload", aws.ToString(in.UploadId))
	}
	return out, err
}

// abortRetrying retries with backoff until the server confirms, the upload
// is gone already, the server refuses for good, or ctx (the transfer
// manager's FailTimeout) ends.
func (c uploadClient) abortRetrying(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	delay := 250 * time.Millisecond
	for {
		out, err := c.Client.AbortMultipartUpload(ctx, in, opts...)
		var gone *types.NoSuchUpload
		switch {
		case err == nil:
			return out, nil
		case errors.As(err, &gone):
			return &s3.AbortMultipartUploadOutput{}, nil
		case refusedForGood(err):
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(delay):
		}
		delay = min(2*delay, 4*time.Second)
	}
}

// refusedForGood reports an answer that asking again will not change: a
// client error such as access denied, as opposed to a network failure or a
// server error (5xx) that a restarting server gives.
func refusedForGood(err error) bool {
	var respErr *awshttp.ResponseError
	if !errors.As(err, &respErr) {
		return false
	}
	status := respErr.HTTPStatusCode()
	return status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
}

// leftOpen returns the error of a failed Put or Copy, err, translated
// already, when its multipart upload uploadID could not be aborted: the
// upload's parts stay stored, and billed, until removed.
func (s *S3) leftOpen(err error, uploadID string, abortErr error) error {
	return fmt.Errorf("%w; and its multipart upload %s is left open, its parts stored until removed (a lifecycle rule with AbortIncompleteMultipartUpload does that): %w",
		err, uploadID, s.translate(context.Background(), abortErr, "s3:AbortMultipartUpload"))
}

// uploadFailed translates the error of a failed UploadObject, telling when
// its multipart upload was left open.
func (s *S3) uploadFailed(ctx context.Context, c *s3Clients, err error) error {
	var upload transfermanager.MultipartUploadError
	if errors.As(err, &upload) {
		if abortErr, found := c.up.unaborted.LoadAndDelete(upload.UploadID()); found {
			if ctxErr := ctx.Err(); ctxErr != nil {
				// After a cancellation, the transfer manager reports
				// the failed abort in its place, as text.
				err = ctxErr
			}
			return s.leftOpen(s.translate(ctx, err, "s3:PutObject"), upload.UploadID(), abortErr.(error))
		}
	}
	return s.translate(ctx, err, "s3:PutObject")
}

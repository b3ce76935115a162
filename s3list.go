package storage

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// List yields the objects whose keys start with prefix in byte order of key,
// as ListObjectsV2 returns them, a page of up to 1000 at a time. With
// opts.Delimiter set, S3's common prefixes are yielded among the objects as
// entries with IsDir set. Zero-byte "folder" objects whose keys end in "/",
// which the S3 console creates, are not objects here and are skipped.
func (s *S3) List(ctx context.Context, prefix string, opts *ListOptions) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if err := validatePrefix(prefix); err != nil {
			yield(Info{}, wrapErr("list", prefix, err))
			return
		}
		delimiter := ""
		if opts != nil {
			delimiter = opts.Delimiter
		}
		for page, err := range s.pages(ctx, prefix, delimiter) {
			if err != nil {
				yield(Info{}, wrapErr("list", prefix, err))
				return
			}
			if !yieldPage(page, yield) {
				return
			}
		}
	}
}

// pages yields the pages of ListObjectsV2 under prefix.
func (s *S3) pages(ctx context.Context, prefix, delimiter string) iter.Seq2[*s3.ListObjectsV2Output, error] {
	return func(yield func(*s3.ListObjectsV2Output, error) bool) {
		c, err := s.api(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		p := s3.NewListObjectsV2Paginator(c.api, &s3.ListObjectsV2Input{
			Bucket:    aws.String(s.bucket),
			Prefix:    optional(prefix),
			Delimiter: optional(delimiter),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(nil, s.translate(ctx, err, "s3:ListBucket"))
				return
			}
			if !yield(page, nil) {
				return
			}
		}
	}
}

// yieldPage yields a page's objects and common prefixes merged in byte
// order: S3 sorts each list, and pages follow one another in the merged
// order, but returns the two lists apart.
func yieldPage(page *s3.ListObjectsV2Output, yield func(Info, error) bool) bool {
	objects, prefixes := page.Contents, page.CommonPrefixes
	for len(objects) > 0 || len(prefixes) > 0 {
		var info Info
		if len(prefixes) == 0 || len(objects) > 0 && aws.ToString(objects[0].Key) < aws.ToString(prefixes[0].Prefix) {
			o := objects[0]
			objects = objects[1:]
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") {
				continue
			}
			info = Info{
				Key:  key,
				Size: aws.ToInt64(o.Size),
				ETag: aws.ToString(o.ETag),
				// Truncated to the second of the Last-Modified header that
				// Stat and Get report; listings carry milliseconds.
				ModTime: aws.ToTime(o.LastModified).UTC().Truncate(time.Second),
			}
		} else {
			info = Info{Key: aws.ToString(prefixes[0].Prefix), IsDir: true}
			prefixes = prefixes[1:]
		}
		if !yield(info, nil) {
			return false
		}
	}
	return true
}

// DeletePrefix deletes every object whose key starts with prefix, 1000 keys
// a DeleteObjects request, and returns how many it deleted. An empty prefix
// is refused with [ErrInvalidKey]. Keys S3 could not delete are reported in
// the error, which matches fs.ErrPermission when access was denied.
func (s *S3) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	n, err := s.deletePrefix(ctx, prefix)
	return n, wrapErr("delete prefix", prefix, err)
}

func (s *S3) deletePrefix(ctx context.Context, prefix string) (int, error) {
	if err := checkDeletePrefix(prefix); err != nil {
		return 0, err
	}
	c, err := s.api(ctx)
	if err != nil {
		return 0, err
	}
	// Pages hold at most 1000 keys, the most a DeleteObjects request takes.
	// The next page is listed while earlier ones are deleted: the listing
	// resumes after the last key it returned, deleted or not, and most of
	// the time goes to the deletions, which the server does key by key.
	g, ctx := newGroup(ctx, deletesInFlight)
	var deleted atomic.Int64
	for page, err := range s.pages(ctx, prefix, "") {
		if err != nil {
			g.Fail(err)
			break
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		g.Go(func() error {
			out, err := c.api.DeleteObjects(ctx, &s3.DeleteObjectsInput{
				Bucket: aws.String(s.bucket),
				Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
			})
			if out != nil {
				deleted.Add(int64(len(ids) - len(out.Errors)))
			}
			switch {
			case err != nil:
				return s.translate(ctx, err, "s3:DeleteObject")
			case len(out.Errors) > 0:
				return s.deleteErrors(out.Errors)
			}
			return nil
		})
	}
	// The first failure, or the caller's cancellation, stops the rest. The
	// count is read only once Wait has seen every request end.
	err = g.Wait()
	return int(deleted.Load()), err
}

// deletesInFlight is how many DeleteObjects requests DeletePrefix keeps
// going at once.
const deletesInFlight = 4

// deleteErrors reports the keys a DeleteObjects request failed to delete,
// the first few by name.
func (s *S3) deleteErrors(failed []types.Error) error {
	const shown = 5
	errs := make([]error, 0, shown+1)
	for i, e := range failed {
		if i == shown {
			errs = append(errs, fmt.Errorf("and %d more keys not deleted", len(failed)-shown))
			break
		}
		code, msg := aws.ToString(e.Code), aws.ToString(e.Message)
		apiErr := fmt.Errorf("%s: %s", code, msg)
		errs = append(errs, fmt.Errorf("%q: %w", aws.ToString(e.Key),
			s.translateAPI(apiErr, code, msg, 0, "", "s3:DeleteObject")))
	}
	return errors.Join(errs...)
}

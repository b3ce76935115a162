package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"net/url"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// List yields the objects under prefix in key order, a ListObjectsV2 page at a
// time. It skips keys [ValidateKey] refuses, which other tools can store (the
// console's "folder/" objects among them), and common prefixes only they start.
func (s *S3) List(ctx context.Context, prefix string, opts *ListOptions) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if err := ValidatePrefix(prefix); err != nil {
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

// pages yields the pages of ListObjectsV2 under prefix, their keys and
// common prefixes decoded.
//
// The listing is asked for URL-encoded: S3 and MinIO otherwise put keys as
// they are into the XML, and a key holding a character XML 1.0 cannot carry,
// as U+0001, which other tools can store, makes its whole page unreadable.
func (s *S3) pages(ctx context.Context, prefix, delimiter string) iter.Seq2[*s3.ListObjectsV2Output, error] {
	return func(yield func(*s3.ListObjectsV2Output, error) bool) {
		c, err := s.api(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		p := s3.NewListObjectsV2Paginator(c.api, &s3.ListObjectsV2Input{
			Bucket:       aws.String(s.bucket),
			Prefix:       optional(prefix),
			Delimiter:    optional(delimiter),
			EncodingType: types.EncodingTypeUrl,
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(nil, s.translate(ctx, err, "s3:ListBucket"))
				return
			}
			if err := decodePage(page); err != nil {
				yield(nil, err)
				return
			}
			if !yield(page, nil) {
				return
			}
		}
	}
}

// decodePage decodes in place the keys and common prefixes of a page listed
// with encoding-type=url. S3 encodes them as form values, as
// url.QueryEscape does but leaving "/" as it is: AWS and MinIO send a space
// as "+" and a "+" as "%2B", so url.QueryUnescape restores them. A page
// whose EncodingType does not say url, from a server that ignores the
// parameter, holds the keys as they are. The paginator's continuation token
// is opaque, and the Prefix and StartAfter echoes are not used.
func decodePage(page *s3.ListObjectsV2Output) error {
	if page.EncodingType != types.EncodingTypeUrl {
		return nil
	}
	decode := func(p **string) error {
		if *p == nil {
			return nil
		}
		v, err := url.QueryUnescape(**p)
		if err != nil {
			return fmt.Errorf("listing holds a key that is not URL-encoded: %q: %w", **p, err)
		}
		*p = &v
		return nil
	}
	for i := range page.Contents {
		if err := decode(&page.Contents[i].Key); err != nil {
			return err
		}
	}
	for i := range page.CommonPrefixes {
		if err := decode(&page.CommonPrefixes[i].Prefix); err != nil {
			return err
		}
	}
	return nil
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
			if keyProblem(key) != "" { // folder objects and other refused keys: see List
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
			prefix := aws.ToString(prefixes[0].Prefix)
			prefixes = prefixes[1:]
			if ValidatePrefix(prefix) != nil {
				continue
			}
			info = Info{Key: prefix, IsDir: true}
		}
		if !yield(info, nil) {
			return false
		}
	}
	return true
}

// DeletePrefix implements [PrefixDeleter], 1,000 keys a DeleteObjects. Unlike
// List, it also deletes keys ValidateKey refuses, which nothing else could reach.
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
	// MinIO lists only one of an object and a folder of the same name ("a"
	// and "a/b"): what one pass misses, the next finds once the first is
	// gone, one level of such names a pass. A pass that deletes nothing
	// ends it, and ten passes at most, so that writers adding keys all
	// along cannot keep it going.
	total := 0
	for range 10 {
		n, err := s.deletePass(ctx, c, prefix)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
	return total, nil
}

// deletePass deletes what one listing of prefix shows.
func (s *S3) deletePass(ctx context.Context, c *s3Clients, prefix string) (int, error) {
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
		// DeleteObjects names its keys in an XML body, where the SDK
		// replaces what XML 1.0 cannot carry with U+FFFD: the server would
		// then delete another key, and report success. Such keys are
		// deleted one by one, by DeleteObject, whose key is in the path.
		ids := make([]types.ObjectIdentifier, 0, len(page.Contents))
		var alone []string
		for _, o := range page.Contents {
			if key := aws.ToString(o.Key); !xmlText(key) {
				alone = append(alone, key)
				continue
			}
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		g.Go(func() error {
			if len(ids) > 0 {
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
			}
			for _, key := range alone {
				_, err := c.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
				if err != nil {
					if err = s.translate(ctx, err, "s3:DeleteObject"); !errors.Is(err, fs.ErrNotExist) {
						return fmt.Errorf("%q: %w", key, err)
					}
				}
				deleted.Add(1)
			}
			return nil
		})
	}
	// The first failure, or the caller's cancellation, stops the rest. The
	// count is read only once Wait has seen every request end.
	err := g.Wait()
	return int(deleted.Load()), err
}

// xmlText reports whether s is valid UTF-8 of characters XML 1.0 can carry,
// and so whether the SDK sends it in an XML body unchanged.
func xmlText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000:
		default:
			return false
		}
	}
	return true
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

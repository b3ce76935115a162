package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Copy limits. One CopyObject copies at most 5 GiB; a larger object is
// copied into a multipart upload whose parts UploadPartCopy fills from
// ranges of the source, at most 10,000 of them.
const (
	s3CopyLimit    = 5 << 30
	s3CopyPartSize = 512 << 20
	s3MaxParts     = 10_000
)

// Copy copies src to dst on the server, with its headers, metadata, tags and,
// with an ACL configured, privacy; above 5 GiB in 512 MiB parts. A src that
// changes meanwhile fails the Copy, leaving dst as it was.
func (s *S3) Copy(ctx context.Context, dst, src string) (Info, error) {
	if err := ValidateKey(src); err != nil {
		return Info{}, wrapErr("copy", src, err)
	}
	if err := ValidateKey(dst); err != nil {
		return Info{}, wrapErr("copy", dst, err)
	}
	c, err := s.api(ctx)
	if err != nil {
		return Info{}, wrapErr("copy", src, err)
	}
	info, err := s.stat(ctx, c, src)
	if err != nil {
		return Info{}, wrapErr("copy", src, err)
	}
	if dst == src {
		// S3 refuses to copy an object onto itself unchanged; it is a no-op.
		return info, nil
	}
	// Copies do not take the source's ACL: a private source must not become
	// public under the configured ACL.
	acl, private := s.acl, false
	if acl != "" {
		private, err = s.isPrivate(ctx, c, src)
		if err != nil {
			return Info{}, wrapErr("copy", src, err)
		}
		acl = s.objectACL(private)
	}
	if info.Size > s.copyLimit {
		info, err = s.copyInParts(ctx, c, dst, src, info, acl, s.copyPartSize)
	} else {
		info, err = s.copyObject(ctx, c, dst, src, info, acl)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, wrapErr("copy", src, err)
	}
	if err != nil {
		return Info{}, wrapErr("copy", dst, err)
	}
	info.Private = private
	return info, nil
}

// copyAction names what a copy needs, for an access-denied error.
const copyAction = "s3:GetObject on the source and s3:PutObject"

// copyObject copies src, which info describes, to dst in one request.
func (s *S3) copyObject(ctx context.Context, c *s3Clients, dst, src string, info Info, acl string) (Info, error) {
	out, err := c.api.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:               aws.String(s.bucket),
		Key:                  aws.String(dst),
		CopySource:           aws.String(s.bucket + "/" + escapeKey(src)),
		CopySourceIfMatch:    optional(info.ETag),
		MetadataDirective:    types.MetadataDirectiveCopy,
		ACL:                  types.ObjectCannedACL(acl),
		ServerSideEncryption: types.ServerSideEncryption(s.sse),
		SSEKMSKeyId:          optional(s.kmsKeyID),
		StorageClass:         types.StorageClass(s.storageClass),
	})
	if err != nil {
		return Info{}, s.translate(ctx, err, copyAction)
	}
	info.Key = dst
	if r := out.CopyObjectResult; r != nil {
		if r.ETag != nil {
			info.ETag = *r.ETag
		}
		if r.LastModified != nil {
			info.ModTime = r.LastModified.UTC().Truncate(time.Second)
		}
	}
	return info, nil
}

// copyInParts copies src, which info describes, to dst in a multipart
// upload of parts of partSize bytes, or larger where 10,000 of them would not
// hold the object. A failed or cancelled copy aborts the upload.
func (s *S3) copyInParts(ctx context.Context, c *s3Clients, dst, src string, info Info, acl string, partSize int64) (Info, error) {
	partSize = max(partSize, ceilDiv(info.Size, s3MaxParts))
	create, err := s.copyUploadInput(ctx, c, dst, src, info.ETag, acl)
	if err != nil {
		return Info{}, err
	}
	// uploadClient's CreateMultipartUpload and AbortMultipartUpload make
	// sure that no upload outlives a failure, as for a Put.
	up := uploadClient{Client: c.api, log: s.log}
	created, err := up.CreateMultipartUpload(ctx, create)
	if err != nil {
		return Info{}, s.translate(ctx, err, "s3:PutObject")
	}
	parts, err := s.copyParts(ctx, c, dst, src, info, created.UploadId, partSize)
	var done *s3.CompleteMultipartUploadOutput
	if err == nil {
		done, err = c.api.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket:          aws.String(s.bucket),
			Key:             aws.String(dst),
			UploadId:        created.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		err = s.translate(ctx, err, "s3:PutObject")
	}
	if err != nil {
		// The caller's context may be the one that ended.
		abortCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s3AbortTimeout)
		defer cancel()
		if _, abortErr := up.abort(abortCtx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(s.bucket), Key: aws.String(dst), UploadId: created.UploadId,
		}); abortErr != nil {
			return Info{}, s.leftOpen(err, aws.ToString(created.UploadId), abortErr)
		}
		return Info{}, err
	}
	info.Key = dst
	info.ETag = aws.ToString(done.ETag)
	info.ModTime = modTimeAfterPut(done.ResultMetadata)
	return info, nil
}

// copyUploadInput returns the request that starts the multipart upload
// copying src to dst, with the headers and tags of the version of src whose
// ETag is etag. CopyObject carries these over by itself; Info holds only
// those this library sets, so they are read again here, lest an object
// stored by another tool lose its Content-Encoding, Content-Language,
// Expires, redirect or tags in a copy. As on CopyObject, the storage class
// and the encryption are the configured ones (see S3Config), or else the
// bucket's defaults.
func (s *S3) copyUploadInput(ctx context.Context, c *s3Clients, dst, src, etag, acl string) (*s3.CreateMultipartUploadInput, error) {
	head, err := c.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(src), IfMatch: optional(etag)})
	if err != nil {
		return nil, s.translate(ctx, err, "s3:GetObject")
	}
	in := &s3.CreateMultipartUploadInput{
		Bucket:                  aws.String(s.bucket),
		Key:                     aws.String(dst),
		ContentType:             head.ContentType,
		ContentDisposition:      head.ContentDisposition,
		ContentEncoding:         head.ContentEncoding,
		ContentLanguage:         head.ContentLanguage,
		CacheControl:            head.CacheControl,
		WebsiteRedirectLocation: head.WebsiteRedirectLocation,
		Metadata:                head.Metadata,
		ACL:                     types.ObjectCannedACL(acl),
		ServerSideEncryption:    types.ServerSideEncryption(s.sse),
		SSEKMSKeyId:             optional(s.kmsKeyID),
		StorageClass:            types.StorageClass(s.storageClass),
	}
	if head.ExpiresString != nil {
		// An Expires that is no HTTP date cannot be sent back as one.
		if t, err := http.ParseTime(*head.ExpiresString); err == nil {
			in.Expires = &t
		}
	}
	if aws.ToInt32(head.TagCount) > 0 {
		out, err := c.api.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(s.bucket), Key: aws.String(src)})
		if err != nil {
			return nil, s.translate(ctx, err, "s3:GetObjectTagging")
		}
		tags := url.Values{}
		for _, tag := range out.TagSet {
			tags.Add(aws.ToString(tag.Key), aws.ToString(tag.Value))
		}
		in.Tagging = aws.String(tags.Encode())
	}
	return in, nil
}

// copyParts fills the parts of the multipart upload uploadID from src,
// s3Concurrency at a time. Each part copies only from the version of src
// that info describes.
func (s *S3) copyParts(ctx context.Context, c *s3Clients, dst, src string, info Info, uploadID *string, partSize int64) ([]types.CompletedPart, error) {
	parts := make([]types.CompletedPart, ceilDiv(info.Size, partSize))
	g, ctx := newGroup(ctx, s3Concurrency)
	for i := range parts {
		if ctx.Err() != nil {
			break
		}
		first := int64(i) * partSize
		last := min(first+partSize, info.Size) - 1
		number := aws.Int32(int32(i + 1))
		g.Go(func() error {
			out, err := c.api.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
				Bucket:            aws.String(s.bucket),
				Key:               aws.String(dst),
				UploadId:          uploadID,
				PartNumber:        number,
				CopySource:        aws.String(s.bucket + "/" + escapeKey(src)),
				CopySourceRange:   aws.String(fmt.Sprintf("bytes=%d-%d", first, last)),
				CopySourceIfMatch: optional(info.ETag),
			})
			if err != nil {
				return s.translate(ctx, err, copyAction)
			}
			if out.CopyPartResult == nil || out.CopyPartResult.ETag == nil {
				return fmt.Errorf("S3 answered UploadPartCopy of part %d without an ETag", *number)
			}
			parts[i] = types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: number}
			return nil
		})
	}
	return parts, g.Wait()
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// isPrivate reports whether the object under key grants access to its owner
// only, as an object stored with PutOptions.Private does, so that Copy can
// keep it so. It needs s3:GetObjectAcl, which the usual policy grants.
func (s *S3) isPrivate(ctx context.Context, c *s3Clients, key string) (bool, error) {
	out, err := c.api.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return false, s.translate(ctx, err, "s3:GetObjectAcl")
	}
	owner := ""
	if out.Owner != nil {
		owner = aws.ToString(out.Owner.ID)
	}
	for _, g := range out.Grants {
		if g.Grantee == nil || g.Grantee.Type != types.TypeCanonicalUser || aws.ToString(g.Grantee.ID) != owner {
			return false, nil
		}
	}
	return true, nil
}

package storage

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// URL returns PublicURL followed by the key when set, else the bucket's URL on
// the endpoint or on AWS (https://BUCKET.s3.amazonaws.com/KEY in us-east-1, the
// region's host elsewhere, path-style for dotted buckets). It does no I/O, so
// until the region is known URLs take us-east-1's form, which AWS reroutes only
// for older regions: set Region for final URLs from the start.
func (s *S3) URL(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", wrapErr("url", key, err)
	}
	base := s.publicURL
	if base == "" {
		region := s.region
		if region == "" {
			region = s.regionInUse()
		}
		base = s3BaseURL(s.endpoint, s.bucket, region, s.addressing)
	}
	return joinURL(base, key), nil
}

// SignedURL presigns a GET or PUT with SigV4 (see [SignOptions]); S3 refuses an
// upload breaking a signed header (403, or 400 BadDigest for a wrong MD5). A PUT
// URL also signs the configured encryption and storage class, whose
// x-amz-server-side-encryption* and x-amz-storage-class headers the uploader
// must then send, but no ACL: its objects get the bucket's default access, so
// opts.Private changes nothing. The first call may look up the bucket's region.
func (s *S3) SignedURL(ctx context.Context, key string, opts *SignOptions) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", wrapErr("sign", key, err)
	}
	spec, err := parseSignOptions(opts)
	if err != nil {
		return "", wrapErr("sign", key, err)
	}
	c, err := s.api(ctx)
	if err != nil {
		return "", wrapErr("sign", key, err)
	}
	withExpiry := s3.WithPresignExpires(spec.expires)
	var signed string
	switch spec.method {
	case http.MethodPut:
		in := &s3.PutObjectInput{
			Bucket:      aws.String(s.bucket),
			Key:         aws.String(key),
			ContentType: optional(spec.contentType),
			ContentMD5:  optional(spec.contentMD5),
			// Signed as headers, not hoisted into the query: the uploader
			// sends them, and S3 refuses a PUT whose values differ.
			ServerSideEncryption: types.ServerSideEncryption(s.sse),
			SSEKMSKeyId:          optional(s.kmsKeyID),
			StorageClass:         types.StorageClass(s.storageClass),
		}
		if spec.contentLength > 0 {
			in.ContentLength = aws.Int64(spec.contentLength)
		}
		req, err := c.presign.PresignPutObject(ctx, in, withExpiry)
		if err != nil {
			return "", wrapErr("sign", key, err)
		}
		signed = req.URL
	default:
		req, err := c.presign.PresignGetObject(ctx, &s3.GetObjectInput{
			Bucket:                     aws.String(s.bucket),
			Key:                        aws.String(key),
			ResponseContentDisposition: optional(spec.responseDisposition),
			ResponseContentType:        optional(spec.responseType),
		}, withExpiry)
		if err != nil {
			return "", wrapErr("sign", key, err)
		}
		signed = req.URL
	}
	return signed, nil
}

// s3BaseURL returns the URL under which an S3 bucket serves its objects
// publicly, without a trailing slash. A custom endpoint (MinIO and other
// S3-compatible servers) is addressed path-style. On AWS, bucket names with
// dots are addressed path-style too, because the wildcard TLS certificate of
// *.s3.amazonaws.com does not cover them, and so are the legacy names that
// are no host name (capitals, underscores); other names get the
// virtual-hosted form that AWS recommends, with the legacy global host in
// us-east-1.
//
// addressing, S3Config.Addressing, overrides the choice: "virtual" puts the
// bucket in front of the endpoint's host, "path" uses the regional host of
// AWS with the bucket in the path.
func s3BaseURL(endpoint, bucket, region, addressing string) string {
	switch {
	case endpoint != "" && addressing == "virtual":
		// checkS3Config has parsed the endpoint.
		u, _ := url.Parse(strings.TrimRight(endpoint, "/"))
		u.Host = bucket + "." + u.Host
		return u.String()
	case endpoint != "":
		return strings.TrimRight(endpoint, "/") + "/" + bucket
	case addressing == "path", !isHostLabel(bucket):
		return "https://s3." + region + "." + awsDomain(region) + "/" + bucket
	case region == "us-east-1":
		return "https://" + bucket + ".s3.amazonaws.com"
	}
	return "https://" + bucket + ".s3." + region + "." + awsDomain(region)
}

// awsDomain returns the domain of the AWS partition region belongs to: China
// and the sovereign and isolated clouds have their own.
func awsDomain(region string) string {
	for _, p := range [...]struct{ prefix, domain string }{
		{"cn-", "amazonaws.com.cn"},
		{"eusc-", "amazonaws.eu"},
		{"us-iso-", "c2s.ic.gov"},
		{"us-isob-", "sc2s.sgov.gov"},
		{"us-isof-", "csp.hci.ic.gov"},
		{"eu-isoe-", "cloud.adc-e.uk"},
	} {
		if strings.HasPrefix(region, p.prefix) {
			return p.domain
		}
	}
	return "amazonaws.com"
}

// isHostLabel reports whether name can be the first label of a host name
// under a TLS wildcard: 1 to 63 lower-case letters, digits and hyphens, not
// starting or ending with a hyphen.
func isHostLabel(name string) bool {
	if name == "" || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

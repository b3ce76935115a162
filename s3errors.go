package storage

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// s3Error is an S3 failure translated for the caller: errors.Is matches kind
// (fs.ErrNotExist, fs.ErrPermission, fs.ErrInvalid or nothing) and errors.As
// still reaches the SDK's error, for example a smithy.APIError.
type s3Error struct {
	kind error
	msg  string
	err  error
}

func (e *s3Error) Error() string { return e.msg }

func (e *s3Error) Unwrap() []error {
	if e.kind == nil {
		return []error{e.err}
	}
	return []error{e.kind, e.err}
}

// accessDeniedAction finds the IAM action that AWS names in an AccessDenied
// message ("… is not authorized to perform: s3:PutObject on resource …").
var accessDeniedAction = regexp.MustCompile(`\bs3:[A-Za-z0-9]+\b`)

// expectedRegion finds the region S3 and MinIO name when a request was signed
// for the wrong one ("… the region 'us-east-1' is wrong; expecting 'eu-west-1'").
var expectedRegion = regexp.MustCompile(`expecting '([a-z0-9-]+)'`)

// translate is the one place that turns an error from the SDK into the
// errors this package promises. action is the IAM action the request needed
// (such as "s3:PutObject"), named when access is denied and S3 does not say.
// Context errors come back as they are, so errors.Is(err, context.Canceled)
// holds and the message stays short.
func (s *S3) translate(ctx context.Context, err error, action string) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return ctxErr
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	// No request went out: say so rather than "operation error S3: …,
	// failed to sign request: failed to retrieve credentials: …".
	var credsErr *credentialsError
	if errors.As(err, &credsErr) {
		return credsErr
	}
	if reach := unreachable(err); reach != nil {
		return reach
	}
	status := 0
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	return s.translateAPI(err, apiErr.ErrorCode(), apiErr.ErrorMessage(), status, bucketRegionHeader(respErr), action)
}

// translateAPI maps an S3 error code and message; err is what the result
// unwraps to. It also serves the per-key errors of DeleteObjects, which come
// as codes inside a successful response.
func (s *S3) translateAPI(err error, code, message string, status int, bucketRegion, action string) error {
	detail := code
	if message != "" {
		detail += ": " + message
	}
	wrap := func(kind error, msg string) error {
		return &s3Error{kind: kind, msg: msg + " (S3: " + detail + ")", err: err}
	}

	var noSuchKey *types.NoSuchKey
	var notFound *types.NotFound
	switch {
	case code == "NoSuchBucket":
		// Before the NotFound case: checkBucket passes HeadBucket's
		// NotFound error with this code.
		return wrap(nil, "bucket "+strconv.Quote(s.bucket)+" does not exist (check "+s.named("Bucket")+" and the endpoint)")

	case errors.As(err, &noSuchKey), errors.As(err, &notFound), code == "NoSuchKey", code == "NotFound":
		// A HEAD gets no body, so a missing bucket looks the same as a
		// missing key there; Stat asks HeadBucket which it is (see
		// checkBucket).
		return &s3Error{kind: fs.ErrNotExist, msg: "object does not exist", err: err}

	case code == "AccessControlListNotSupported":
		return wrap(fs.ErrPermission, "the bucket does not accept ACLs (its Object Ownership is \"bucket owner enforced\"): "+
			"unset "+s.named("ACL")+" and grant public read access with a bucket policy instead")

	case code == "InvalidAccessKeyId" && s.creds.static:
		return wrap(fs.ErrPermission, "the access key is not known to the server (check "+s.named("AccessKey")+")")

	case code == "SignatureDoesNotMatch" && s.creds.static:
		return wrap(fs.ErrPermission, "the request signature does not match (check "+s.named("SecretKey")+")")

	case code == "InvalidAccessKeyId", code == "SignatureDoesNotMatch", code == "InvalidToken":
		return wrap(fs.ErrPermission, "the server refuses the credentials from "+s.creds.source)

	case code == "PermanentRedirect", code == "AuthorizationHeaderMalformed", code == "IllegalLocationConstraintException",
		status == http.StatusMovedPermanently,
		status == http.StatusBadRequest && code == "BadRequest" && bucketRegion != "" && bucketRegion != s.regionInUse():
		want := bucketRegion
		if want == "" {
			if m := expectedRegion.FindStringSubmatch(message); m != nil {
				want = m[1]
			}
		}
		msg := "wrong region " + strconv.Quote(s.regionInUse()) + " for bucket " + strconv.Quote(s.bucket)
		if want != "" {
			msg += ": the bucket is in " + strconv.Quote(want) + "; set " + s.named("Region") + " to it or leave it empty to detect it"
		}
		return wrap(nil, msg)

	// S3 answers these with 403 too, but no policy would change them.
	case code == "InvalidObjectState":
		return wrap(nil, "the object is archived (its storage class is Glacier or Deep Archive): restore it before reading it")

	case code == "RequestTimeTooSkewed":
		return wrap(nil, "this machine's clock differs from the server's by more than 15 minutes: set it right (NTP)")

	case code == "ExpiredToken", code == "RequestExpired":
		return wrap(nil, "the request or its credentials (from "+s.creds.source+") expired")

	case code == "AccessDenied", code == "AllAccessDisabled", code == "Forbidden", status == http.StatusForbidden:
		named := accessDeniedAction.FindString(message)
		msg := "access denied"
		switch {
		case named != "" && action == "s3:GetBucketLocation":
			msg += ": the credentials lack " + named + "; grant it, or set " + s.named("Region") + " so that it is not needed"
		case named != "":
			msg += ": the credentials lack " + named
		case action == "s3:GetBucketLocation":
			msg += " (looking up the region needs s3:GetBucketLocation; grant it, or set " + s.named("Region") + ")"
		case action != "":
			msg += " (this operation needs " + action
			if action == "s3:GetObject" {
				// Without ListBucket, S3 answers a missing key with 403 instead of 404.
				msg += ", and s3:ListBucket for missing objects to read as not found"
			}
			msg += ")"
		}
		return wrap(fs.ErrPermission, msg)

	case status == http.StatusBadRequest && code == "BadRequest" && bucketRegion != "":
		// The bucket is in the region in use: the region is not the cause.
		return wrap(nil, "the server refused the request as malformed")

	case status == http.StatusBadRequest && code == "BadRequest":
		// A HEAD gets no body to explain itself; with S3 the usual cause is
		// a request signed for another region, which its header would name.
		return wrap(nil, "the server refused the request; if bucket "+strconv.Quote(s.bucket)+
			" is not in region "+strconv.Quote(s.regionInUse())+", set "+s.named("Region")+" to its region or leave it empty to detect it")

	case code == "PreconditionFailed":
		// Only a copy sends a condition: that its source is still the
		// version it looked up.
		return wrap(nil, "the source changed during the copy")

	case code == "InvalidRange":
		return wrap(nil, "range not satisfiable")

	case code == "BadDigest", code == "InvalidDigest", strings.HasPrefix(code, "XAmzContentSHA256Mismatch"):
		return wrap(nil, "data corrupted in transit: the server's checksum differs from the one sent")
	}
	return err
}

// bucketRegionHeader returns the region S3 names in a redirect or an error
// response, or "".
func bucketRegionHeader(respErr *awshttp.ResponseError) string {
	if respErr == nil || respErr.Response == nil {
		return ""
	}
	return respErr.Response.Header.Get("X-Amz-Bucket-Region")
}

// isInvalidRange reports whether S3 refused a range that starts past the end
// of the object (HTTP 416).
func isInvalidRange(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "InvalidRange" {
		return true
	}
	var respErr *awshttp.ResponseError
	return errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusRequestedRangeNotSatisfiable
}

// unreachable returns err as an error saying that no connection to the
// server could be made (a refused or timed-out dial, an unknown host), or
// nil for any other error: "operation error S3: HeadObject, exceeded maximum
// number of attempts, 3, https response error StatusCode: 0 …" says it
// poorly. errors.Is and errors.As still reach the network error.
func unreachable(err error) error {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var reason string
	switch {
	case errors.As(err, &dnsErr):
		reason = "no such host " + strconv.Quote(dnsErr.Name)
		if !dnsErr.IsNotFound {
			reason = dnsErr.Err // the resolver failed: its own words
		}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		reason = opErr.Err.Error()
		var errno syscall.Errno
		if errors.As(opErr.Err, &errno) {
			reason = errno.Error() // without "connect: "
		}
		switch {
		case errors.Is(opErr.Err, errRefused):
			// In the same words everywhere: Windows says "No connection
			// could be made because the target machine actively refused it."
			reason = "connection refused"
		case opErr.Timeout():
			reason = "connection timed out"
		}
	default:
		return nil
	}
	server := "the server"
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		if u, perr := url.Parse(urlErr.URL); perr == nil && u.Host != "" {
			server = u.Scheme + "://" + u.Host
		}
	}
	return &s3Error{msg: "cannot reach " + server + ": " + reason, err: err}
}

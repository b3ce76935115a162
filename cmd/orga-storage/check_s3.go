package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/orga-server/storage"
)

// checkS3 checks an S3 backend in the order an operator sets it up (see the
// S3 setup guide: bucket, IAM user, policy, three variables). The policy it
// expects grants s3:ListBucket and s3:GetBucketLocation on the bucket and
// every action on bucket/*; the fixes it prints refer to that policy. It
// reports whether the bucket was found and its region known, so that
// requests to its URL can reach it.
func checkS3(ctx context.Context, r *report, s *storage.S3, publicPrefix string) bool {
	cfg := s.Config()
	bucketARN := "arn:aws:s3:::" + cfg.Bucket
	where := "AWS"
	if cfg.Endpoint != "" {
		where = "the server " + cfg.Endpoint
	}
	rest := []string{"bucket", "region", "s3:ListBucket", "s3:GetBucketLocation", "s3:PutObject", "s3:GetObject", "s3:DeleteObject"}
	skipRest := func(from, why string) {
		for i, step := range rest {
			if step == from {
				for _, step := range rest[i:] {
					r.skip(step, why)
				}
				return
			}
		}
	}

	creds, err := s.Credentials(ctx)
	if err != nil {
		fix := "check the credential source the message names"
		if creds.Source != "AWS_KEY and AWS_SECRET" {
			fix = "check the role this program runs with (EKS service account, ECS task role, EC2 instance profile, AWS_PROFILE) and that its credentials endpoint is reachable; or set AWS_KEY and AWS_SECRET and unset STORAGE_S3_CREDENTIALS"
		}
		r.fail("credentials", message(err), fix)
		skipRest("bucket", "needs credentials")
		return false
	}
	if err := s.CheckCredentials(ctx); err != nil {
		if unreachable(err) {
			r.fail("server", message(err), fmt.Sprintf("check that %s is up and reachable from here (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; unset both for AWS)", where))
			r.skip("credentials", "needs the server")
			skipRest("bucket", "needs the server")
			return false
		}
		detail, fix := credentialsProblem(err, creds, where)
		r.fail("credentials", detail, fix)
		skipRest("bucket", "needs valid credentials")
		return false
	}
	r.pass("credentials", fmt.Sprintf("%s accepts access key %s and its secret (%s)", where, creds.AccessKey, describeCredentials(creds)))

	// GetBucketLocation answers for any region; ListObjects needs the right
	// one, configured or detected.
	region, locErr := s.BucketRegion(ctx)
	var listErr error
	regionKnown := locErr == nil || cfg.Region != ""
	if regionKnown {
		for _, err := range s.List(ctx, "", &storage.ListOptions{Delimiter: "/"}) {
			listErr = err
			break // one entry, or none, is enough
		}
	}

	switch {
	case storage.S3ErrorCode(locErr) == "NoSuchBucket" || storage.S3ErrorCode(listErr) == "NoSuchBucket":
		fix := fmt.Sprintf("create the bucket %q, or set BUCKET_NAME to the exact name of an existing bucket", cfg.Bucket)
		if cfg.Endpoint != "" {
			fix += " on " + cfg.Endpoint
		}
		r.fail("bucket", fmt.Sprintf("bucket %q does not exist at %s", cfg.Bucket, where), fix)
		skipRest("region", "needs the bucket")
		return false
	case locErr == nil || (regionKnown && listErr == nil):
		r.pass("bucket", fmt.Sprintf("bucket %q exists at %s", cfg.Bucket, where))
	case isDenied(locErr) && !regionKnown:
		// Nothing says the user may not list the bucket: the region step
		// below names what is missing.
		r.skip("bucket", "cannot be found without its region: GetBucketLocation is denied and AWS_REGION is unset")
	case isDenied(locErr) && isDenied(listErr):
		r.fail("bucket", fmt.Sprintf("the user may neither list bucket %q nor read its location", cfg.Bucket),
			fmt.Sprintf("check that BUCKET_NAME is the bucket the user's policy names, and attach the policy of the S3 setup to the user: s3:ListBucket and s3:GetBucketLocation on %s, \"Action\": \"*\" on %s/*", bucketARN, bucketARN))
		skipRest("region", "needs access to the bucket")
		return false
	default:
		err := locErr
		if regionKnown && listErr != nil && !isDenied(listErr) {
			err = listErr
		}
		r.fail("bucket", message(err), fmt.Sprintf("check that %s is reachable from here (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; unset both for AWS)", where))
		skipRest("region", "needs the bucket")
		return false
	}

	regionOK := true
	switch {
	case locErr == nil && cfg.Region != "" && cfg.Region != region:
		regionOK = false
		r.fail("region", fmt.Sprintf("AWS_REGION says %s but the bucket is in %s", cfg.Region, region),
			fmt.Sprintf("set AWS_REGION=%s, or unset AWS_REGION and AWS_DEFAULT_REGION to detect it", region))
	case locErr == nil && cfg.Region != "":
		r.pass("region", region+" (from AWS_REGION; matches the bucket's location)")
	case locErr == nil:
		r.pass("region", region+" (detected with GetBucketLocation)")
	case regionKnown && listErr == nil:
		r.pass("region", cfg.Region+" (from AWS_REGION; the bucket answers requests signed for it)")
	case isWrongRegion(listErr):
		regionOK = false
		r.fail("region", message(listErr),
			"set AWS_REGION to the bucket's region, or unset it and grant s3:GetBucketLocation on "+bucketARN+" to detect it")
	case cfg.Region != "":
		r.skip("region", "cannot verify AWS_REGION="+cfg.Region+": neither GetBucketLocation nor ListBucket is allowed")
	default:
		regionOK = false
		r.fail("region", "unknown: AWS_REGION is unset and GetBucketLocation is denied",
			"add s3:GetBucketLocation on "+bucketARN+" to the user's policy, or set AWS_REGION to the bucket's region")
	}

	switch {
	case !regionKnown:
		r.skip("s3:ListBucket", "needs the region")
	case listErr == nil:
		r.pass("s3:ListBucket", "allowed on "+bucketARN)
	case isDenied(listErr):
		r.fail("s3:ListBucket", message(listErr), "add s3:ListBucket on "+bucketARN+" to the user's policy")
	case isWrongRegion(listErr):
		r.skip("s3:ListBucket", "needs the right region")
	default:
		r.fail("s3:ListBucket", message(listErr), "")
	}

	switch {
	case locErr == nil:
		r.pass("s3:GetBucketLocation", "allowed on "+bucketARN)
	case cfg.Region != "":
		r.info("s3:GetBucketLocation", message(locErr)+" (informational: not needed while AWS_REGION is set; the S3 setup grants it: add s3:GetBucketLocation on "+bucketARN+" to the user's policy)")
	case isDenied(locErr):
		r.fail("s3:GetBucketLocation", message(locErr),
			"add s3:GetBucketLocation on "+bucketARN+" to the user's policy (or set AWS_REGION to the bucket's region)")
	default:
		r.fail("s3:GetBucketLocation", message(locErr), "")
	}

	if !regionOK || !regionKnown {
		skipRest("s3:PutObject", "needs the region")
		r.skip("public URL", "needs the probe object")
		r.skip("ACLs", "needs the region")
		return false
	}

	p := &probe{
		st:   s,
		key:  probeKey(publicPrefix),
		body: []byte("orga-storage check probe " + time.Now().UTC().Format(time.RFC3339Nano) + "\n"),
		fix: func(action string, err error) string {
			switch {
			case strings.HasPrefix(cfg.ServerSideEncryption, "aws:kms") && kmsRefused(err):
				return fmt.Sprintf("STORAGE_SSE=%s needs a KMS key that the user may use: check that STORAGE_KMS_KEY_ID names one (unset, the account's default aws/s3 key), and grant kms:GenerateDataKey and kms:Decrypt on it to the user, in its IAM policy or the key's policy; a server without a KMS refuses SSE-KMS: unset STORAGE_SSE there", cfg.ServerSideEncryption)
			case storage.S3ErrorCode(err) == "AccessControlListNotSupported":
				return "unset STORAGE_ACL: the bucket rejects ACLs (its Object Ownership is \"Bucket owner enforced\"); make objects public with a bucket policy instead (see the public URL step)"
			case isDenied(err):
				return fmt.Sprintf("add %s on %s/* to the user's policy (the S3 setup allows every action, \"Action\": \"*\", on %s/*)", action, bucketARN, bucketARN)
			}
			return ""
		},
	}
	defer p.cleanup(ctx)
	if !p.put(ctx, r, "s3:PutObject") {
		skipRest("s3:GetObject", "needs the put")
		r.skip("public URL", "needs the probe object")
		r.skip("ACLs", "needs s3:PutObject")
		return true
	}
	p.get(ctx, r, "s3:GetObject")
	public := publicURL(ctx, s, p.key, p.body)
	p.delete(ctx, r, "s3:DeleteObject")

	if public.err != nil {
		r.info("public URL", "could not fetch it (informational): "+public.err.Error())
	} else if public.readable {
		r.info("public URL", public.url+" is readable anonymously (informational)")
	} else {
		r.info("public URL", fmt.Sprintf("%s is not readable anonymously: %s (informational: public URLs are needed only where the application links objects directly; signed URLs work regardless)", public.url, public.status))
		what := "every object in the bucket public (--public-prefix PREFIX: only those under PREFIX)"
		if publicPrefix != "" {
			what = fmt.Sprintf("the objects under %q public", publicPrefix)
		}
		r.more("To make " + what + ", add this bucket policy (S3 console: the bucket, Permissions, Bucket policy; on AWS first turn off \"Block public access\" for the bucket):")
		r.more(publicPolicy(cfg.Bucket, publicPrefix))
	}

	checkACL(ctx, r, s, cfg, publicPrefix)
	return true
}

// describeCredentials says where the credentials came from, and for a
// chain which provider answered.
func describeCredentials(c storage.S3Credentials) string {
	text := "from " + c.Source
	if c.Provider != "" && c.Provider != "StaticCredentials" {
		text += ", answered by " + c.Provider
	}
	if c.Temporary {
		text += "; temporary"
	}
	if !c.Expires.IsZero() {
		text += ", renewed by " + c.Expires.UTC().Format(time.RFC3339)
	}
	return text
}

// credentialsProblem explains why the server refused the credentials.
func credentialsProblem(err error, cfg storage.S3Credentials, where string) (detail, fix string) {
	if cfg.Source != "AWS_KEY and AWS_SECRET" && cfg.Source != "AWS_KEY, AWS_SECRET and AWS_SESSION_TOKEN" {
		// The keys come from a role or a provider: no variable to correct.
		switch code := storage.S3ErrorCode(err); code {
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken":
			return fmt.Sprintf("%s refuses access key %s (%s): %s", where, cfg.AccessKey, describeCredentials(cfg), code),
				"check that the role's credentials are meant for this server; a custom endpoint (AWS_ENDPOINT_URL) does not know AWS's roles"
		}
	}
	switch storage.S3ErrorCode(err) {
	case "ExpiredToken":
		return message(err), "set AWS_KEY, AWS_SECRET and AWS_SESSION_TOKEN to fresh temporary credentials, or use long-lived keys without AWS_SESSION_TOKEN"
	case "InvalidToken":
		return message(err), "set AWS_SESSION_TOKEN to the session token issued with AWS_KEY and AWS_SECRET, or unset it for long-lived keys"
	case "InvalidAccessKeyId":
		return fmt.Sprintf("%s does not know the access key %s", where, cfg.AccessKey),
			"set AWS_KEY to the access key ID of the IAM user (IAM console: Users, the user, Security credentials)"
	case "SignatureDoesNotMatch":
		return fmt.Sprintf("the secret key does not belong to access key %s", cfg.AccessKey),
			"set AWS_SECRET to the secret access key shown when access key " + cfg.AccessKey + " was created; if it is lost, create a new access key for the user and set AWS_KEY and AWS_SECRET to it"
	case "RequestTimeTooSkewed":
		return message(err), "set this machine's clock right, e.g. with NTP (timedatectl set-ntp true)"
	case "":
		return fmt.Sprintf("cannot reach %s: %s", where, message(err)),
			"check the endpoint (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; unset both for AWS) and the network"
	}
	return message(err), ""
}

// isWrongRegion reports an error caused by signing for another region than
// the bucket's.
// kmsRefused reports an upload refused for its SSE-KMS: by the KMS (AWS's
// KMS.* codes, MinIO's kms:*), for want of a kms: permission (AWS names it
// in its AccessDenied message), or by a server without a KMS.
func kmsRefused(err error) bool {
	code := storage.S3ErrorCode(err)
	return strings.HasPrefix(strings.ToLower(code), "kms") || code == "NotImplemented" ||
		isDenied(err) && strings.Contains(err.Error(), "kms:")
}

func isWrongRegion(err error) bool {
	switch storage.S3ErrorCode(err) {
	case "AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException":
		return true
	}
	return err != nil && strings.Contains(err.Error(), "wrong region")
}

// publicResult is the outcome of fetching an object's URL anonymously.
type publicResult struct {
	url      string
	readable bool
	status   string
	err      error
}

// publicURL fetches the URL of key without credentials, as a browser would.
func publicURL(ctx context.Context, s storage.Storage, key string, body []byte) publicResult {
	u, err := s.URL(key)
	if err != nil {
		return publicResult{err: err}
	}
	res := publicResult{url: u}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		res.err = err
		return res
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		res.err = err
		return res
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(io.LimitReader(resp.Body, int64(len(body))+1))
	res.status = "HTTP " + resp.Status
	res.readable = err == nil && resp.StatusCode == http.StatusOK && bytes.Equal(got, body)
	return res
}

// publicPolicy returns the bucket policy that lets anyone read the objects
// under prefix, in the layout of the S3 setup guide.
func publicPolicy(bucket, prefix string) string {
	return fmt.Sprintf(`{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::%s/%s*"
        }
    ]
}`, bucket, prefix)
}

// checkACL tells whether the bucket accepts object ACLs, by putting a second
// probe object with the "public-read" canned ACL. New AWS buckets reject
// ACLs; the library then needs STORAGE_ACL unset.
func checkACL(ctx context.Context, r *report, s *storage.S3, cfg storage.S3Config, prefix string) {
	cfg.ACL = "public-read"
	withACL, err := storage.NewS3(ctx, cfg)
	if err != nil {
		r.info("ACLs", "could not tell (informational): "+message(err))
		return
	}
	p := &probe{st: s, key: probeKey(prefix)}
	defer p.cleanup(ctx)
	_, err = withACL.Put(ctx, p.key, strings.NewReader("orga-storage check ACL probe\n"), nil)
	switch {
	case err == nil:
		r.info("ACLs", "the bucket accepts object ACLs (informational): a put with the public-read canned ACL succeeded, so STORAGE_ACL may be set")
	case storage.S3ErrorCode(err) == "AccessControlListNotSupported":
		r.info("ACLs", "the bucket rejects ACLs (informational): its Object Ownership is \"Bucket owner enforced\", the default for new buckets; leave STORAGE_ACL unset and make objects public with a bucket policy")
	default:
		r.info("ACLs", "could not tell (informational): "+message(err))
	}
}

// unreachable reports whether err says that no connection to the server
// could be made: a refused or timed-out dial, or a host name that does not
// resolve.
func unreachable(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) || (errors.As(err, &opErr) && opErr.Op == "dial")
}

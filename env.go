package storage

import (
	"fmt"
	"os"
	"strings"
)

// The environment variables FromEnv reads. Only env.go, s3env.go and
// localenv.go read the environment.
const (
	envBucket     = "BUCKET_NAME"
	envKey        = "AWS_KEY"
	envSecret     = "AWS_SECRET"
	envToken      = "AWS_SESSION_TOKEN"
	envCreds      = "STORAGE_S3_CREDENTIALS"
	envRegion     = "AWS_REGION"
	envRegionOld  = "AWS_DEFAULT_REGION"
	envEndpointS3 = "AWS_ENDPOINT_URL_S3"
	envEndpoint   = "AWS_ENDPOINT_URL"
	envACL        = "STORAGE_ACL"
	envAttempts   = "AWS_MAX_ATTEMPTS"
	envRetryMode  = "AWS_RETRY_MODE"
	envAddressing = "STORAGE_S3_ADDRESSING"
	envSSE        = "STORAGE_SSE"
	envKMSKey     = "STORAGE_KMS_KEY_ID"
	envClass      = "STORAGE_S3_STORAGE_CLASS"
	envDir        = "STORAGE_DIR"
	envURL        = "STORAGE_URL"
	envSigningKey = "STORAGE_SIGNING_KEY"
)

// EnvVar is an environment variable that FromEnv reads, as [Env] reports it.
type EnvVar struct {
	Name  string
	Value string // "" when unset; "[redacted]" for a secret that is set
	Usage string
}

// envUsage documents every variable; the README's table says the same.
var envUsage = [...]struct{ name, usage string }{
	{envBucket, "S3 bucket; with AWS_KEY and AWS_SECRET selects S3"},
	{envKey, "S3 access key ID"},
	{envSecret, "S3 secret access key (never printed)"},
	{envToken, "S3 session token of temporary keys, with AWS_KEY and AWS_SECRET (never printed)"},
	{envCreds, "\"default\": with BUCKET_NAME alone, the AWS default credential chain (roles)"},
	{envRegion, "S3 region; unset: detected from the bucket"},
	{envRegionOld, "S3 region, when AWS_REGION is unset"},
	{envEndpointS3, "S3-compatible server, e.g. MinIO; unset: AWS"},
	{envEndpoint, "S3-compatible server, when AWS_ENDPOINT_URL_S3 is unset"},
	{envACL, "canned ACL for new S3 objects, e.g. public-read; unset: none"},
	{envAttempts, "S3 attempts per request, retries included; unset: 3"},
	{envRetryMode, "S3 retry mode, standard or adaptive; unset: standard"},
	{envAddressing, "path or virtual (bucket in the host name); unset: path-style on a custom endpoint"},
	{envSSE, "server-side encryption of uploads: AES256, aws:kms or aws:kms:dsse; unset: the bucket's default"},
	{envKMSKey, "KMS key of aws:kms or aws:kms:dsse; unset: the AWS managed key"},
	{envClass, "S3 storage class of uploads, e.g. STANDARD_IA; unset: the bucket's default"},
	{envDir, "local directory; default static/media"},
	{envURL, "public base URL of the objects; local default /static/media/"},
	{envSigningKey, "secret for signed URLs of local files (never printed)"},
}

// Env reports the variables FromEnv reads, in its order, secrets redacted, for
// diagnostics such as `orga-storage check`.
func Env() []EnvVar {
	vars := make([]EnvVar, len(envUsage))
	for i, u := range envUsage {
		v := os.Getenv(u.name)
		if (u.name == envSecret || u.name == envToken || u.name == envSigningKey) && v != "" {
			v = redacted
		}
		vars[i] = EnvVar{Name: u.name, Value: v, Usage: u.usage}
	}
	return vars
}

// FromEnv returns the storage the environment configures, as orga-server does
// at startup, without network I/O:
//
//   - BUCKET_NAME, AWS_KEY and AWS_SECRET set (AWS_SESSION_TOKEN for temporary
//     keys): [S3];
//   - BUCKET_NAME set and STORAGE_S3_CREDENTIALS=default: S3 on the AWS SDK's
//     default credential chain (web identity, container and instance roles,
//     SSO, AWS_PROFILE), fetched by the first request;
//   - none of them: [Local] in STORAGE_DIR (default static/media), with URLs
//     under STORAGE_URL (default /static/media/) signed by STORAGE_SIGNING_KEY.
//
// S3 is further set by AWS_REGION, AWS_ENDPOINT_URL_S3, STORAGE_URL,
// STORAGE_ACL, STORAGE_SSE, STORAGE_KMS_KEY_ID, STORAGE_S3_STORAGE_CLASS,
// STORAGE_S3_ADDRESSING, AWS_MAX_ATTEMPTS and AWS_RETRY_MODE ([Env] lists them
// all, with the SDK's alternative names). Anything in between, a value with
// white space at either end (as copied from a secrets file) or out of range is
// an error naming the variables to fix, never their values.
func FromEnv() (Storage, error) {
	var set, missing, padded []string
	for _, name := range []string{envBucket, envKey, envSecret} {
		v := os.Getenv(name)
		if v != "" {
			set = append(set, name)
		} else {
			missing = append(missing, name)
		}
		if strings.TrimSpace(v) != v {
			padded = append(padded, name)
		}
	}
	chain, err := envChain(padded)
	if err != nil {
		return nil, err
	}
	// The backends are returned through a variable of the interface type
	// only when there is no error: a nil *Local in a Storage is no nil
	// Storage, and a caller checking st == nil would take it for a backend.
	var st Storage
	switch {
	case chain && (len(set) != 1 || set[0] != envBucket):
		return nil, fmt.Errorf("storage: %s=default takes the credentials from the AWS default chain, and needs %s set and %s and %s unset; %s",
			envCreds, envBucket, envKey, envSecret, describeSet(set, missing))
	case chain:
		st, err := s3ChainFromEnv(os.Getenv(envBucket))
		if err != nil {
			return nil, err
		}
		return st, nil
	case len(set) == 0:
		l, err := localFromEnv()
		if err != nil {
			return nil, err
		}
		st = l
	case len(set) == 3:
		s, err := s3KeysFromEnv(os.Getenv(envBucket))
		if err != nil {
			return nil, err
		}
		st = s
	default:
		hint := ""
		if len(set) == 1 && set[0] == envBucket {
			hint = fmt.Sprintf(" (or, with BUCKET_NAME alone, %s=default for the AWS default credential chain: instance or task role, web identity)", envCreds)
		}
		return nil, fmt.Errorf("storage: S3 is half configured: %s; set all three of %s, %s and %s to use S3%s, or none to store files on local disk",
			describeSet(set, missing), envBucket, envKey, envSecret, hint)
	}
	return st, nil
}

// envChain checks STORAGE_S3_CREDENTIALS and AWS_SESSION_TOKEN, and reports
// whether the default credential chain is chosen. padded holds the other
// variables found padded with white space, for one error naming them all.
func envChain(padded []string) (chain bool, err error) {
	if v := os.Getenv(envCreds); v != "" && v != "default" {
		return false, fmt.Errorf("storage: %s must be \"default\" (the AWS default credential chain) or unset (AWS_KEY and AWS_SECRET)", envCreds)
	}
	if strings.TrimSpace(os.Getenv(envToken)) != os.Getenv(envToken) {
		padded = append(padded, envToken)
	}
	if len(padded) > 0 {
		return false, fmt.Errorf("storage: %s %s white space at the start or end (a line break copied from a secrets file?); remove it",
			strings.Join(padded, " and "), agree(padded, "has", "have"))
	}
	return os.Getenv(envCreds) == "default", nil
}

// describeSet says which of the S3 selecting variables are set and which not.
func describeSet(set, missing []string) string {
	switch {
	case len(set) == 0:
		return "none of " + strings.Join(missing, ", ") + " is set"
	case len(missing) == 0:
		return strings.Join(set, " and ") + " are set"
	}
	return fmt.Sprintf("%s %s set but %s %s not", strings.Join(set, " and "), agree(set, "is", "are"),
		strings.Join(missing, " and "), agree(missing, "is", "are"))
}

// agree returns the verb form that agrees with the number of names.
func agree(names []string, one, many string) string {
	if len(names) == 1 {
		return one
	}
	return many
}

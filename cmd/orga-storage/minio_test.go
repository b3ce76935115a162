package main

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/orga-server/storage"
	"github.com/orga-server/storage/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// minio is a MinIO server started by scripts/minio, with buckets and users
// of this package's own, so that the library's tests, which empty their
// buckets, and these never see each other's objects.
type minio struct {
	endpoint, rootKey, rootSecret    string
	regionalEndpoint, regionalRegion string

	bucket       string // private; the users below are restricted to it
	publicBucket string // readable by anyone
	// user has exactly the policy of the S3 setup guide; noPut lacks
	// s3:PutObject, noLocation s3:GetBucketLocation.
	userKey, userSecret             string
	noPutKey, noPutSecret           string
	noLocationKey, noLocationSecret string
}

// setupMinIO returns the server that scripts/minio started, with this
// package's buckets and users created, or skips the test when there is none;
// under CI=true a missing server fails the test instead, so that CI can never
// pass without running these tests.
func setupMinIO(t *testing.T) *minio {
	t.Helper()
	get := func(name string) string { return os.Getenv("STORAGE_TEST_S3_" + name) }
	m := &minio{
		endpoint:         get("ENDPOINT"),
		rootKey:          get("ACCESS_KEY"),
		rootSecret:       get("SECRET_KEY"),
		regionalEndpoint: get("REGIONAL_ENDPOINT"),
		regionalRegion:   get("REGIONAL_REGION"),
	}
	if m.endpoint == "" || m.rootKey == "" || m.rootSecret == "" || m.regionalEndpoint == "" {
		const msg = "no MinIO server: run scripts/test, or `scripts/minio start` and source .minio/env, to run the S3 tests"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: the S3 tests must run)")
		}
		t.Skip(msg)
	}

	// scripts/minioadmin does what the mc client would, without mc. Under
	// Wine, which has no go command, scripts/wine builds it beforehand.
	admin := os.Getenv("STORAGE_TEST_MINIOADMIN_BINARY")
	if admin == "" {
		admin = filepath.Join(t.TempDir(), "minioadmin")
		build := exec.Command("go", "build", "-o", admin, ".")
		build.Dir = filepath.Join("..", "..", "scripts", "minioadmin")
		out, err := build.CombinedOutput()
		require.NoError(t, err, "building scripts/minioadmin: %s", out)
	}
	run := func(endpoint string, args ...string) {
		t.Helper()
		u, err := url.Parse(endpoint)
		require.NoError(t, err)
		cmd := exec.Command(admin, args...)
		cmd.Env = append(os.Environ(), "MINIO_ADMIN_ENDPOINT="+u.Host, "MINIO_ROOT_USER="+m.rootKey, "MINIO_ROOT_PASSWORD="+m.rootSecret)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "minioadmin %v: %s", args, out)
	}

	id := randomHex(4)
	m.bucket, m.publicBucket = "orga-cli-"+id, "orga-cli-public-"+id
	run(m.endpoint, "bucket", m.bucket)
	run(m.endpoint, "bucket", m.publicBucket)
	run(m.endpoint, "public-read", m.publicBucket)
	run(m.regionalEndpoint, "bucket", m.bucket)

	dir := t.TempDir()
	policies := map[string]string{
		// The policy of the S3 setup guide, word for word.
		"cli-iam-" + id: `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:ListBucket",
                "s3:GetBucketLocation"
            ],
            "Resource": "arn:aws:s3:::BUCKET"
        },
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "arn:aws:s3:::BUCKET/*"
        }
    ]
}`,
		// The same without s3:PutObject.
		"cli-noput-" + id: `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": "arn:aws:s3:::BUCKET"
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:DeleteObject"],
            "Resource": "arn:aws:s3:::BUCKET/*"
        }
    ]
}`,
		// The same without s3:GetBucketLocation. MinIO lets "Action": "*"
		// on BUCKET/* answer GetBucketLocation too, so the object actions
		// are listed.
		"cli-noloc-" + id: `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::BUCKET"
        },
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
            "Resource": "arn:aws:s3:::BUCKET/*"
        }
    ]
}`,
	}
	for name, doc := range policies {
		file := filepath.Join(dir, name+".json")
		require.NoError(t, os.WriteFile(file, []byte(strings.ReplaceAll(doc, "BUCKET", m.bucket)), 0o600))
		run(m.endpoint, "policy", name, file)
	}
	m.userKey, m.userSecret = "cli-user-"+id, randomHex(20)
	m.noPutKey, m.noPutSecret = "cli-noput-"+id, randomHex(20)
	run(m.endpoint, "user", m.userKey, m.userSecret, "cli-iam-"+id)
	run(m.endpoint, "user", m.noPutKey, m.noPutSecret, "cli-noput-"+id)
	m.noLocationKey, m.noLocationSecret = "cli-noloc-"+id, randomHex(20)
	run(m.endpoint, "user", m.noLocationKey, m.noLocationSecret, "cli-noloc-"+id)
	return m
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// env returns an environment selecting S3 on endpoint, as an operator would
// set it.
func (m *minio) env(endpoint, bucket, key, secret string, extra ...string) []string {
	return cleanEnv(append([]string{
		"BUCKET_NAME=" + bucket, "AWS_KEY=" + key, "AWS_SECRET=" + secret, "AWS_ENDPOINT_URL=" + endpoint,
	}, extra...)...)
}

func TestMinIO(t *testing.T) {
	m := setupMinIO(t)
	root := m.env(m.endpoint, m.bucket, m.rootKey, m.rootSecret)

	// requireNoProbes makes sure that check removed its probe objects.
	requireNoProbes := func(t *testing.T, env []string) {
		t.Helper()
		assert.NotContains(t, ok(t, env, "", "ls", "-r"), "orga-storage-check")
	}

	t.Run("check/documented setup", func(t *testing.T) {
		r := run(t, m.env(m.endpoint, m.bucket, m.userKey, m.userSecret), "", "check")
		out := r.stdout
		require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", out, r.stderr)
		assert.Empty(t, r.stderr)
		assert.Contains(t, out, "Backend: S3, because BUCKET_NAME, AWS_KEY, AWS_SECRET are all set.")
		assert.Regexp(t, `(?m)^  AWS_KEY +`+m.userKey+`$`, out)
		assert.Regexp(t, `(?m)^  AWS_SECRET +\[redacted\]$`, out)
		assert.Regexp(t, `(?m)^  AWS_ENDPOINT_URL +`+regexp.QuoteMeta(m.endpoint)+`$`, out)
		assert.NotContains(t, out, m.userSecret, "a secret must never be printed")
		for _, step := range []string{"credentials", "bucket", "region", "s3:ListBucket", "s3:GetBucketLocation", "s3:PutObject", "s3:GetObject", "s3:DeleteObject"} {
			assert.Regexp(t, `(?m)^PASS  `+step+`: `, out)
		}
		assert.Contains(t, out, "PASS  region: us-east-1 (detected with GetBucketLocation)")
		assert.Regexp(t, `(?m)^INFO  public URL: `+regexp.QuoteMeta(m.endpoint+"/"+m.bucket+"/orga-storage-check/")+`\S+ is not readable anonymously: HTTP 403`, out)
		assert.Contains(t, out, `"Resource": "arn:aws:s3:::`+m.bucket+`/*"`)
		assert.Contains(t, out, `"Principal": "*"`)
		assert.Regexp(t, `(?m)^INFO  ACLs: `, out)
		assert.NotContains(t, out, "FAIL")
		assert.Contains(t, out, "All required checks passed.")
		requireNoProbes(t, root)
	})

	t.Run("check/public prefix", func(t *testing.T) {
		r := run(t, m.env(m.endpoint, m.bucket, m.userKey, m.userSecret), "", "check", "--public-prefix", "events/")
		require.Equal(t, 0, r.code, r.stdout)
		assert.Regexp(t, `INFO  public URL: \S+/`+m.bucket+`/events/orga-storage-check/`, r.stdout)
		assert.Contains(t, r.stdout, `"Resource": "arn:aws:s3:::`+m.bucket+`/events/*"`)
		requireNoProbes(t, root)
	})

	t.Run("check/public bucket", func(t *testing.T) {
		env := m.env(m.endpoint, m.publicBucket, m.rootKey, m.rootSecret)
		r := run(t, env, "", "check")
		require.Equal(t, 0, r.code, r.stdout)
		assert.Regexp(t, `(?m)^INFO  public URL: \S+ is readable anonymously`, r.stdout)
		assert.NotContains(t, r.stdout, "bucket policy")
		requireNoProbes(t, env)
	})

	t.Run("check/without s3:PutObject", func(t *testing.T) {
		r := run(t, m.env(m.endpoint, m.bucket, m.noPutKey, m.noPutSecret), "", "check")
		out := r.stdout
		require.Equal(t, 1, r.code, out)
		assert.Equal(t, "orga-storage check: 1 required check failed; see the FAIL lines above\n", r.stderr)
		for _, step := range []string{"credentials", "bucket", "region", "s3:ListBucket", "s3:GetBucketLocation"} {
			assert.Regexp(t, `(?m)^PASS  `+step+`: `, out)
		}
		assert.Regexp(t, `(?m)^FAIL  s3:PutObject: put "orga-storage-check/\S+": access denied.*\n`+
			`      fix: add s3:PutObject on arn:aws:s3:::`+m.bucket+`/\* to the user's policy`, out)
		assert.Regexp(t, `(?m)^SKIP  s3:GetObject: `, out)
		assert.Regexp(t, `(?m)^SKIP  s3:DeleteObject: `, out)
		requireNoProbes(t, root)
	})

	t.Run("check/SSE-KMS", func(t *testing.T) {
		kmsKey := testkit.KMSKeyID(t)
		const hint = "grant kms:GenerateDataKey and kms:Decrypt on it to the user"
		for _, tt := range []struct {
			name, endpoint, key string
			code                int
		}{
			{"server without a KMS", m.endpoint, kmsKey, 1},
			{"no such key", m.regionalEndpoint, "no-such-key", 1},
			{"the server's key", m.regionalEndpoint, kmsKey, 0},
		} {
			env := m.env(tt.endpoint, m.bucket, m.rootKey, m.rootSecret, "STORAGE_SSE=aws:kms", "STORAGE_KMS_KEY_ID="+tt.key)
			r := run(t, env, "", "check")
			require.Equal(t, tt.code, r.code, "%s:\n%s", tt.name, r.stdout)
			if tt.code == 0 {
				assert.Regexp(t, `(?m)^PASS  s3:PutObject: `, r.stdout, tt.name)
				assert.NotContains(t, r.stdout, hint, tt.name)
			} else {
				assert.Regexp(t, `(?m)^FAIL  s3:PutObject: .*\n      fix: STORAGE_SSE=aws:kms needs a KMS key`, r.stdout, tt.name)
				assert.Contains(t, r.stdout, hint, tt.name)
			}
			requireNoProbes(t, env)
		}
	})

	t.Run("check/without s3:GetBucketLocation", func(t *testing.T) {
		bucketARN := "arn:aws:s3:::" + m.bucket
		r := run(t, m.env(m.endpoint, m.bucket, m.noLocationKey, m.noLocationSecret), "", "check")
		out := r.stdout
		require.Equal(t, 1, r.code, out)
		assert.Equal(t, "orga-storage check: 2 required checks failed; see the FAIL lines above\n", r.stderr)
		_, steps, _ := strings.Cut(out, "\n\n")
		assert.Regexp(t, `^PASS  credentials: .*\n`+
			`SKIP  bucket: cannot be found without its region: GetBucketLocation is denied and AWS_REGION is unset\n`+
			`FAIL  region: unknown: AWS_REGION is unset and GetBucketLocation is denied\n`+
			`      fix: add s3:GetBucketLocation on `+regexp.QuoteMeta(bucketARN)+` to the user's policy, or set AWS_REGION to the bucket's region\n`+
			`SKIP  s3:ListBucket: needs the region\n`+
			`FAIL  s3:GetBucketLocation: .*access denied.*\n`+
			`      fix: add s3:GetBucketLocation on `+regexp.QuoteMeta(bucketARN)+` to the user's policy \(or set AWS_REGION to the bucket's region\)\n`+
			`SKIP  s3:PutObject: needs the region\n`+
			`SKIP  s3:GetObject: needs the region\n`+
			`SKIP  s3:DeleteObject: needs the region\n`+
			`SKIP  public URL: .*\n`+
			`SKIP  ACLs: .*\n`+
			`\n2 required checks failed\.\n$`, steps)

		// With the region set, GetBucketLocation is not needed.
		r = run(t, m.env(m.endpoint, m.bucket, m.noLocationKey, m.noLocationSecret, "AWS_REGION=us-east-1"), "", "check")
		out = r.stdout
		require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", out, r.stderr)
		for _, step := range []string{"credentials", "bucket", "region", "s3:ListBucket", "s3:PutObject", "s3:GetObject", "s3:DeleteObject"} {
			assert.Regexp(t, `(?m)^PASS  `+step+`: `, out)
		}
		assert.Contains(t, out, "PASS  region: us-east-1 (from AWS_REGION; the bucket answers requests signed for it)")
		assert.Regexp(t, `(?m)^INFO  s3:GetBucketLocation: .*access denied.* \(informational: not needed while AWS_REGION is set`, out)
		assert.NotContains(t, out, "FAIL")
		requireNoProbes(t, root)
	})

	t.Run("check/wrong secret", func(t *testing.T) {
		r := run(t, m.env(m.endpoint, m.bucket, m.userKey, m.userSecret+"x"), "", "check")
		out := r.stdout
		require.Equal(t, 1, r.code, out)
		assert.Contains(t, out, "FAIL  credentials: the secret key does not belong to access key "+m.userKey+"\n"+
			"      fix: set AWS_SECRET to the secret access key shown when access key "+m.userKey+" was created")
		assert.Regexp(t, `(?m)^SKIP  bucket: needs valid credentials$`, out)
		assert.NotContains(t, out, m.userSecret)
	})

	t.Run("check/default chain", func(t *testing.T) {
		// The user's temporary credentials from MinIO's STS, served as the
		// ECS agent serves a task role's.
		client := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.endpoint),
			Credentials: credentials.NewStaticCredentialsProvider(m.userKey, m.userSecret, "")})
		out, err := client.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String("arn:minio:iam:::role/cli"),
			RoleSessionName: aws.String("cli-check"), DurationSeconds: aws.Int32(900)})
		require.NoError(t, err)
		var fail atomic.Bool
		agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if fail.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `{"message":"the agent is down"}`)
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"AccessKeyId": *out.Credentials.AccessKeyId,
				"SecretAccessKey": *out.Credentials.SecretAccessKey, "Token": *out.Credentials.SessionToken,
				"Expiration": out.Credentials.Expiration.UTC().Format(time.RFC3339)})
		}))
		defer agent.Close()
		noFiles := filepath.Join(t.TempDir(), "none")
		env := cleanEnv("BUCKET_NAME="+m.bucket, "AWS_ENDPOINT_URL="+m.endpoint, "STORAGE_S3_CREDENTIALS=default",
			"AWS_CONTAINER_CREDENTIALS_FULL_URI="+agent.URL, "AWS_EC2_METADATA_DISABLED=true",
			"AWS_CONFIG_FILE="+noFiles, "AWS_SHARED_CREDENTIALS_FILE="+noFiles)
		r := run(t, env, "", "check")
		require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		assert.Contains(t, r.stdout, "Backend: S3, because BUCKET_NAME is set and STORAGE_S3_CREDENTIALS=default")
		assert.Regexp(t, `(?m)^  STORAGE_S3_CREDENTIALS +default$`, r.stdout)
		assert.Contains(t, r.stdout, "PASS  credentials: the server "+m.endpoint+" accepts access key "+*out.Credentials.AccessKeyId+
			" and its secret (from the default AWS credential chain (STORAGE_S3_CREDENTIALS=default), answered by CredentialsEndpointProvider; temporary, renewed by ")
		for _, step := range []string{"bucket", "region", "s3:ListBucket", "s3:GetBucketLocation", "s3:PutObject", "s3:GetObject", "s3:DeleteObject"} {
			assert.Regexp(t, `(?m)^PASS  `+step+`: `, r.stdout)
		}
		assert.NotContains(t, r.stdout, *out.Credentials.SecretAccessKey)
		assert.NotContains(t, r.stdout, *out.Credentials.SessionToken)
		requireNoProbes(t, root)

		fail.Store(true)
		r = run(t, env, "", "check")
		require.Equal(t, 1, r.code, r.stdout)
		assert.Regexp(t, `(?m)^FAIL  credentials: getting credentials from the default AWS credential chain \(STORAGE_S3_CREDENTIALS=default\): .*the agent is down.*\n      fix: check the role this program runs with`, r.stdout)
		assert.Regexp(t, `(?m)^SKIP  bucket: needs credentials$`, r.stdout)
	})

	t.Run("check/unknown access key", func(t *testing.T) {
		r := run(t, m.env(m.endpoint, m.bucket, "no-such-key", m.userSecret), "", "check")
		require.Equal(t, 1, r.code, r.stdout)
		assert.Contains(t, r.stdout, "FAIL  credentials: the server "+m.endpoint+" does not know the access key no-such-key\n      fix: set AWS_KEY to")
	})

	t.Run("check/missing bucket", func(t *testing.T) {
		missing := m.bucket + "-missing"
		r := run(t, m.env(m.endpoint, missing, m.rootKey, m.rootSecret), "", "check")
		out := r.stdout
		require.Equal(t, 1, r.code, out)
		assert.Regexp(t, `(?m)^PASS  credentials: `, out)
		assert.Contains(t, out, `FAIL  bucket: bucket "`+missing+`" does not exist at the server `+m.endpoint+"\n"+
			`      fix: create the bucket "`+missing+`", or set BUCKET_NAME to the exact name of an existing bucket on `+m.endpoint)
		assert.Regexp(t, `(?m)^SKIP  s3:PutObject: `, out)
	})

	t.Run("check/region detected", func(t *testing.T) {
		r := run(t, m.env(m.regionalEndpoint, m.bucket, m.rootKey, m.rootSecret), "", "check")
		require.Equal(t, 0, r.code, r.stdout)
		assert.Contains(t, r.stdout, "PASS  region: "+m.regionalRegion+" (detected with GetBucketLocation)")
	})

	t.Run("check/wrong region", func(t *testing.T) {
		r := run(t, m.env(m.regionalEndpoint, m.bucket, m.rootKey, m.rootSecret, "AWS_REGION=us-west-2"), "", "check")
		require.Equal(t, 1, r.code, r.stdout)
		assert.Contains(t, r.stdout, "FAIL  region: AWS_REGION says us-west-2 but the bucket is in "+m.regionalRegion+"\n"+
			"      fix: set AWS_REGION="+m.regionalRegion)
	})

	t.Run("commands", func(t *testing.T) {
		prefix := "cli-" + randomHex(4) + "/"
		t.Cleanup(func() { run(t, root, "", "rm", "-r", prefix) })
		base := m.endpoint + "/" + m.bucket + "/" + prefix

		assert.Equal(t, base+"docs/readme.md\n", ok(t, root, "# Hello\n", "put", "-", prefix+"docs/readme.md", "--meta", "author=alice"))
		// A private object's public URL would answer 403: put prints a
		// signed one, which fetches what was put.
		private := ok(t, root, "plus", "put", "-", prefix+"a b+.txt", "--private")
		assert.True(t, strings.HasPrefix(private, base+"a%20b%2B.txt?"), private)
		assert.Contains(t, private, "X-Amz-Signature=")
		privResp, err := http.Get(strings.TrimSpace(private))
		require.NoError(t, err)
		privBody, _ := io.ReadAll(privResp.Body)
		privResp.Body.Close()
		assert.Equal(t, http.StatusOK, privResp.StatusCode)
		assert.Equal(t, "plus", string(privBody))
		lines := ok(t, root, "", "ls", prefix)
		assert.Regexp(t, `(?m)^\s+4 B  .*  `+regexp.QuoteMeta(prefix)+`a b\+\.txt\n\s+-\s+`+regexp.QuoteMeta(prefix)+`docs/\n$`, lines)
		assert.Equal(t, 2, strings.Count(ok(t, root, "", "ls", "-r", "--json", prefix), "\n"))
		assert.Equal(t, "# Hello\n", ok(t, root, "", "get", prefix+"docs/readme.md"))
		stat := ok(t, root, "", "stat", prefix+"docs/readme.md")
		assert.Regexp(t, `(?m)^ContentType:\s+text/markdown`, stat)
		assert.Regexp(t, `(?m)^Metadata:\s+author=alice$`, stat)
		assert.Equal(t, base+"copy.md\n", ok(t, root, "", "cp", prefix+"docs/readme.md", prefix+"copy.md"))

		signed := strings.TrimSpace(ok(t, root, "", "sign", prefix+"copy.md", "--expires", "1m"))
		status, body := send(t, http.MethodGet, signed, nil, nil)
		assert.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, "# Hello\n", body)

		// A download named by --download-as, and an upload bounded by --file.
		signed = strings.TrimSpace(ok(t, root, "", "sign", prefix+"copy.md", "--download-as", "Notizen für Tag 1.md"))
		saved, body := download(t, signed)
		assert.Equal(t, "Notizen für Tag 1.md", saved)
		assert.Equal(t, "# Hello\n", body)
		upload := filepath.Join(t.TempDir(), "upload.txt")
		require.NoError(t, os.WriteFile(upload, []byte("bounded"), 0o644))
		signed = strings.TrimSpace(ok(t, root, "", "sign", prefix+"bounded.txt", "--file", upload))
		status, msg := send(t, http.MethodPut, signed, []byte("bounder"), http.Header{"Content-Md5": {"JgLRn0kPwRJqSVo6EOg4aA=="}})
		assert.True(t, status >= 400 && status < 500, "a body other than the file's: %d %s", status, msg)
		sum := md5.Sum([]byte("bounded"))
		status, msg = send(t, http.MethodPut, signed, []byte("bounded"), http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(sum[:])}})
		require.Equal(t, http.StatusOK, status, msg)
		assert.Equal(t, "bounded", ok(t, root, "", "get", prefix+"bounded.txt"))
		ok(t, root, "", "rm", prefix+"bounded.txt")
		var form struct{ URL string }
		require.NoError(t, json.Unmarshal([]byte(ok(t, root, "", "sign", "--post", "--max-size", "10MiB", prefix+"form.png")), &form))
		assert.True(t, strings.HasPrefix(form.URL, m.endpoint), "the form posts to the bucket: %s", form.URL)

		line := failsWith(t, 1, root, "get", prefix+"missing.txt")
		assert.Equal(t, `orga-storage get: no object "`+prefix+`missing.txt"`, line)

		// A user without s3:PutObject gets one clear line.
		line = failsWith(t, 1, m.env(m.endpoint, m.bucket, m.noPutKey, m.noPutSecret), "put", "-", prefix+"x.txt")
		assert.Contains(t, line, "access denied")
		assert.Contains(t, line, "s3:PutObject")

		ok(t, root, "", "rm", prefix+"copy.md")
		assert.Equal(t, "removed 2 objects\n", ok(t, root, "", "rm", "-r", prefix))
		assert.Empty(t, ok(t, root, "", "ls", "-r", prefix))
	})
}

func TestCheckUnreachableS3(t *testing.T) {
	// Nothing listens on port 1; no MinIO needed.
	env := cleanEnv("BUCKET_NAME=uploads", "AWS_KEY=AKIAEXAMPLE", "AWS_SECRET=do-not-print-me", "AWS_ENDPOINT_URL=http://127.0.0.1:1")
	r := run(t, env, "", "check", "--timeout", "20s")
	require.Equal(t, 1, r.code, r.stdout)
	assert.Contains(t, r.stdout, "FAIL  server: cannot reach http://127.0.0.1:1: connection refused\n"+
		"      fix: check that the server http://127.0.0.1:1 is up and reachable from here (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; unset both for AWS)\n"+
		"SKIP  credentials: needs the server\n")
	assert.NotContains(t, r.stdout+r.stderr, "do-not-print-me")
}

// TestMinIOSync moves a local tree to a bucket with the policy of the S3
// setup guide, as the README's "Moving to S3" does, back to a directory,
// and to another bucket: every object arrives with its content and
// attributes, and reruns copy nothing.
func TestMinIOSync(t *testing.T) {
	m := setupMinIO(t)
	work := t.TempDir()
	media := filepath.Join(work, "static", "media")
	tree := syncTree("")
	putObjects(t, openLocal(t, media), tree, 0)
	want := objects(t, openLocal(t, media), "")
	for key, o := range want {
		o.Private = false // S3 does not tell it
		want[key] = o
	}
	s3Objects := func(bucket string) map[string]object {
		s, err := storage.NewS3(context.Background(), storage.S3Config{Bucket: bucket, Endpoint: m.endpoint,
			AccessKey: m.rootKey, SecretKey: storage.NewSecret(m.rootSecret)})
		require.NoError(t, err)
		defer s.Close()
		return objects(t, s, "")
	}
	all := fmt.Sprint(len(tree))

	// The operator's environment: the bucket, the guide's user.
	env := m.env(m.endpoint, m.bucket, m.userKey, m.userSecret)
	out := okIn(t, work, env, "sync", "local:static/media", "s3://"+m.bucket)
	assert.Equal(t, [4]string{all, "0", "0", "0"}, summary(t, out))
	assert.Equal(t, want, s3Objects(m.bucket))
	out = okIn(t, work, env, "sync", "local:static/media", "s3://"+m.bucket)
	assert.Equal(t, [4]string{"0", all, "0", "0"}, summary(t, out), "a rerun copies nothing")

	// Back to a directory; the multipart object's ETag is no MD5, so that
	// the rerun hashes the local copy.
	out = okIn(t, work, env, "sync", "s3://"+m.bucket, "local:back")
	assert.Equal(t, [4]string{all, "0", "0", "0"}, summary(t, out))
	assert.Equal(t, want, objects(t, openLocal(t, filepath.Join(work, "back")), ""))
	out = okIn(t, work, env, "sync", "s3://"+m.bucket, "local:back")
	assert.Equal(t, [4]string{"0", all, "0", "0"}, summary(t, out), "a rerun copies nothing")

	// Bucket to bucket, a prefix only, with --delete; BUCKET_NAME unset.
	root := cleanEnv("AWS_KEY="+m.rootKey, "AWS_SECRET="+m.rootSecret, "AWS_ENDPOINT_URL="+m.endpoint)
	out = okIn(t, work, root, "sync", "--delete", "s3://"+m.bucket, "s3://"+m.publicBucket, "events/")
	n := 0
	for key := range want {
		if strings.HasPrefix(key, "events/") {
			n++
		}
	}
	assert.Equal(t, [4]string{fmt.Sprint(n), "0", "0", "0"}, summary(t, out))
	got := s3Objects(m.publicBucket)
	assert.Len(t, got, n)
	for key, o := range got {
		assert.Equal(t, want[key], o, key)
	}

	// A user without s3:PutObject: each key fails, named with the side,
	// and the exit status says so.
	putObjects(t, openLocal(t, filepath.Join(work, "more")), syncTree("more/")[:2], 0)
	r := runIn(t, work, m.env(m.endpoint, m.bucket, m.noPutKey, m.noPutSecret), "", "sync", "local:more", "s3://"+m.bucket, "more/")
	require.Equal(t, 1, r.code, "stdout %q, stderr %q", r.stdout, r.stderr)
	assert.Equal(t, [4]string{"0", "0", "0", "2"}, summary(t, r.stdout))
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	require.Len(t, lines, 3, r.stderr)
	for i, o := range syncTree("more/")[:2] {
		assert.True(t, strings.HasPrefix(lines[i], fmt.Sprintf("orga-storage sync: %q: put to s3://%s: ", o.key, m.bucket)), lines[i])
		assert.Contains(t, lines[i], "access denied")
	}
	assert.Equal(t, "orga-storage sync: 2 objects failed", lines[2])
}

// TestMinIOSyncKilled kills sync to a bucket at random points (see
// syncKilled): each object in the bucket is the old one or the new one
// whole, a multipart one included, and a rerun completes the job and
// leaves no multipart upload open.
func TestMinIOSyncKilled(t *testing.T) {
	m := setupMinIO(t)
	work := t.TempDir()
	srcDir := filepath.Join(work, "src")
	tree, old := killTrees(60, 1<<20)
	// Over 8 MiB: uploaded in parts, which a kill may leave half done.
	tree[0].size, old[0].size = 9<<20, 9<<20
	putObjects(t, openLocal(t, srcDir), tree, 1)
	s, err := storage.NewS3(context.Background(), storage.S3Config{Bucket: m.bucket, Endpoint: m.endpoint,
		AccessKey: m.rootKey, SecretKey: storage.NewSecret(m.rootSecret)})
	require.NoError(t, err)
	defer s.Close()
	reset := func() {
		_, err := storage.DeletePrefix(context.Background(), s, "events/")
		require.NoError(t, err)
		putObjects(t, s, old, 0)
	}
	reset()
	read := func() map[string]object { return objects(t, s, "") }
	var keys []string
	for _, o := range tree {
		keys = append(keys, o.key)
	}
	syncKilled(t, work, killedSync{
		env: m.env(m.endpoint, m.bucket, m.userKey, m.userSecret, "XDG_CACHE_HOME="+filepath.Join(work, "cache")),
		src: "local:" + srcDir, dst: "s3://" + m.bucket,
		reset: reset, read: read, oldVersion: read(), newVersion: objects(t, openLocal(t, srcDir), ""),
		check: func(round int) {
			assert.Empty(t, m.openUploads(t, m.bucket, keys), "round %d: the rerun leaves no multipart upload open", round)
		},
	}, 3)
}

package storage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assumeRole gets temporary credentials for the restricted user, the one
// holding the seed IAM policy, from MinIO's STS. MinIO issues them for 15
// minutes at least.
func assumeRole(t *testing.T, m minio) aws.Credentials {
	t.Helper()
	client := sts.New(sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(m.endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(m.restrictedKey, m.restrictedSecret, ""),
	})
	out, err := client.AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn:         aws.String("arn:minio:iam:::role/storage-test"),
		RoleSessionName: aws.String("storage-test"),
		DurationSeconds: aws.Int32(900),
	})
	require.NoError(t, err)
	c := out.Credentials
	require.NotEmpty(t, aws.ToString(c.SessionToken), "STS issues a session token")
	return aws.Credentials{
		AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken), CanExpire: true, Expires: aws.ToTime(c.Expiration),
	}
}

// roundTrip puts, reads back and deletes key, failing the test on an error.
func roundTrip(t *testing.T, s storage.Storage, key string) {
	t.Helper()
	ctx := context.Background()
	_, err := s.Put(ctx, key, strings.NewReader(key), nil)
	require.NoError(t, err)
	r, err := s.Get(ctx, key)
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	r.Close()
	require.NoError(t, err)
	assert.Equal(t, key, string(got))
	require.NoError(t, s.Delete(ctx, key))
}

// clearEnv unsets every variable FromEnv and the SDK's default chain read,
// and points the shared configuration files at nothing.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, name := range []string{"BUCKET_NAME", "AWS_KEY", "AWS_SECRET", "AWS_SESSION_TOKEN", "STORAGE_S3_CREDENTIALS",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "STORAGE_URL", "STORAGE_ACL",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"} {
		t.Setenv(name, "")
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	// No EC2 instance metadata here: without this the chain's last
	// provider would wait for 169.254.169.254.
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// TestS3SessionToken uses temporary credentials from MinIO's STS, through
// S3Config.SessionToken and through AWS_SESSION_TOKEN.
func TestS3SessionToken(t *testing.T) {
	m := needMinIO(t)
	creds := assumeRole(t, m)
	cfg := storage.S3Config{Bucket: m.restrictedBucket, Endpoint: m.endpoint, AccessKey: creds.AccessKeyID,
		SecretKey: storage.NewSecret(creds.SecretAccessKey), SessionToken: storage.NewSecret(creds.SessionToken)}
	s := newS3(t, cfg)
	roundTrip(t, s, "creds/session-token.txt")
	info, err := s.Credentials(context.Background())
	require.NoError(t, err)
	assert.Equal(t, storage.S3Credentials{Source: "S3Config.AccessKey, SecretKey and SessionToken", Provider: "StaticCredentials",
		AccessKey: creds.AccessKeyID, Temporary: true}, info)

	t.Run("without the token", func(t *testing.T) {
		cfg := cfg
		cfg.SessionToken = storage.Secret{}
		_, err := newS3(t, cfg).Put(context.Background(), "creds/no-token.txt", strings.NewReader("x"), nil)
		require.ErrorIs(t, err, fs.ErrPermission, "temporary keys are refused without their token")
	})

	t.Run("FromEnv", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("BUCKET_NAME", m.restrictedBucket)
		t.Setenv("AWS_ENDPOINT_URL", m.endpoint)
		t.Setenv("AWS_KEY", creds.AccessKeyID)
		t.Setenv("AWS_SECRET", creds.SecretAccessKey)
		t.Setenv("AWS_SESSION_TOKEN", creds.SessionToken)
		st, err := storage.FromEnv()
		require.NoError(t, err)
		roundTrip(t, st, "creds/from-env.txt")
		info, err := st.(*storage.S3).Credentials(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "AWS_KEY, AWS_SECRET and AWS_SESSION_TOKEN", info.Source)
		assert.True(t, info.Temporary)
		for _, v := range storage.Env() {
			if v.Name == "AWS_SESSION_TOKEN" {
				assert.Equal(t, "[redacted]", v.Value)
			}
		}

		t.Setenv("AWS_SESSION_TOKEN", "wrong-"+creds.SessionToken[:40])
		st, err = storage.FromEnv()
		require.NoError(t, err)
		_, err = st.Put(context.Background(), "creds/wrong-token.txt", strings.NewReader("x"), nil)
		require.ErrorIs(t, err, fs.ErrPermission)
		assert.NotContains(t, fmt.Sprintf("%v %+v %#v", err, err, err), creds.SessionToken[:40])
	})
}

// credentialsEndpoint serves credentials as the ECS and EKS agents do, at
// the address AWS_CONTAINER_CREDENTIALS_FULL_URI names.
type credentialsEndpoint struct {
	srv      *httptest.Server
	requests atomic.Int32
	mu       sync.Mutex
	next     func() (aws.Credentials, int) // what to serve, and the status
}

func newCredentialsEndpoint(t *testing.T) *credentialsEndpoint {
	e := &credentialsEndpoint{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.requests.Add(1)
		if r.Header.Get("Authorization") != "container-token" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		e.mu.Lock()
		creds, status := e.next()
		e.mu.Unlock()
		if status != http.StatusOK {
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]string{"code": "Unavailable", "message": "the agent is down"})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId": creds.AccessKeyID, "SecretAccessKey": creds.SecretAccessKey,
			"Token": creds.SessionToken, "Expiration": creds.Expires.UTC().Format(time.RFC3339),
		})
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *credentialsEndpoint) serve(f func() (aws.Credentials, int)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.next = f
}

// TestS3DefaultChainContainerCredentials selects the default chain with
// STORAGE_S3_CREDENTIALS=default and serves it STS credentials from a
// container credentials endpoint on loopback, as ECS does: fetched on first
// use, cached, fetched again once expired, and a failing endpoint gives an
// error naming the source.
func TestS3DefaultChainContainerCredentials(t *testing.T) {
	m := needMinIO(t)
	first, second := assumeRole(t, m), assumeRole(t, m)
	require.NotEqual(t, first.AccessKeyID, second.AccessKeyID)
	e := newCredentialsEndpoint(t)
	// The SDK fetches container credentials again 5 minutes before they
	// expire. The endpoint says the first ones expire 2 seconds after
	// that, so that the run sees a refresh; MinIO accepts them for 15
	// minutes.
	refresh := time.Now().Add(2 * time.Second)
	e.serve(func() (aws.Credentials, int) {
		c := first
		c.Expires = refresh.Add(5 * time.Minute)
		return c, http.StatusOK
	})

	clearEnv(t)
	t.Setenv("BUCKET_NAME", m.restrictedBucket)
	t.Setenv("AWS_ENDPOINT_URL", m.endpoint)
	t.Setenv("STORAGE_S3_CREDENTIALS", "default")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", e.srv.URL+"/v2/credentials")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-token")
	st, err := storage.FromEnv()
	require.NoError(t, err)
	assert.Zero(t, e.requests.Load(), "FromEnv fetches no credentials")
	s := st.(*storage.S3)

	roundTrip(t, s, "creds/chain-1.txt")
	roundTrip(t, s, "creds/chain-2.txt")
	assert.EqualValues(t, 1, e.requests.Load(), "the credentials are cached")
	info, err := s.Credentials(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "the default AWS credential chain (STORAGE_S3_CREDENTIALS=default)", info.Source)
	assert.Equal(t, first.AccessKeyID, info.AccessKey)
	assert.True(t, info.Temporary)
	assert.NotEmpty(t, info.Provider, "the provider that answered is named")
	t.Logf("provider: %s", info.Provider)

	e.serve(func() (aws.Credentials, int) { return second, http.StatusOK })
	time.Sleep(time.Until(refresh) + 100*time.Millisecond)
	roundTrip(t, s, "creds/chain-3.txt")
	assert.EqualValues(t, 2, e.requests.Load(), "expired credentials are fetched again")
	info, err = s.Credentials(context.Background())
	require.NoError(t, err)
	assert.Equal(t, second.AccessKeyID, info.AccessKey, "the refreshed credentials are used")

	// A backend whose endpoint fails: the error names the source.
	e.serve(func() (aws.Credentials, int) { return aws.Credentials{}, http.StatusInternalServerError })
	st, err = storage.FromEnv()
	require.NoError(t, err)
	_, err = st.Put(context.Background(), "creds/chain-fails.txt", strings.NewReader("x"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `storage: put "creds/chain-fails.txt": `)
	assert.Contains(t, err.Error(), "getting credentials from the default AWS credential chain (STORAGE_S3_CREDENTIALS=default): ")
	assert.NotContains(t, err.Error(), "operation error", "the SDK's wrapping is gone")
	_, err = st.(*storage.S3).Credentials(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "getting credentials from the default AWS credential chain")
	for _, c := range []aws.Credentials{first, second} {
		assert.NotContains(t, err.Error(), c.SecretAccessKey)
		assert.NotContains(t, err.Error(), c.SessionToken)
	}
}

// TestS3CredentialsProvider uses S3Config.Credentials, and checks that
// Config hands out the backend's provider rather than its keys.
func TestS3CredentialsProvider(t *testing.T) {
	m := needMinIO(t)
	var calls atomic.Int32
	provider := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		calls.Add(1)
		return aws.Credentials{AccessKeyID: m.restrictedKey, SecretAccessKey: m.restrictedSecret, Source: "test provider"}, nil
	})
	s := newS3(t, storage.S3Config{Bucket: m.restrictedBucket, Endpoint: m.endpoint, Credentials: provider})
	roundTrip(t, s, "creds/provider.txt")
	assert.EqualValues(t, 1, calls.Load(), "credentials without expiry are fetched once")
	info, err := s.Credentials(context.Background())
	require.NoError(t, err)
	assert.Equal(t, storage.S3Credentials{Source: "S3Config.Credentials", Provider: "test provider", AccessKey: m.restrictedKey}, info)

	cfg := s.Config()
	assert.Empty(t, cfg.AccessKey)
	assert.False(t, cfg.SecretKey.IsSet())
	assert.False(t, cfg.SessionToken.IsSet())
	require.NotNil(t, cfg.Credentials)
	cfg.ACL = "private"
	again := newS3(t, cfg)
	roundTrip(t, again, "creds/provider-again.txt")
	assert.EqualValues(t, 1, calls.Load(), "a backend made from Config shares the cache")

	failing := newS3(t, storage.S3Config{Bucket: m.restrictedBucket, Endpoint: m.endpoint,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, nil })})
	_, err = failing.Stat(context.Background(), "creds/x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "getting credentials from S3Config.Credentials: the provider returned no access key and secret key")
}

// TestS3CredentialsConfigErrors checks the configurations NewS3 refuses.
func TestS3CredentialsConfigErrors(t *testing.T) {
	provider := credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "provider-SECRET-0123456789", "")
	for _, tt := range []struct {
		cfg  storage.S3Config
		want string
	}{
		{storage.S3Config{Bucket: "b", Credentials: provider, AccessKey: "AKIAEXAMPLE"}, "Credentials and AccessKey are both set"},
		{storage.S3Config{Bucket: "b", Credentials: provider, SessionToken: storage.NewSecret("t")}, "Credentials and SessionToken are both set"},
		{storage.S3Config{Credentials: provider}, "Bucket not set"},
		{storage.S3Config{Bucket: "b", SessionToken: storage.NewSecret("t")}, "AccessKey and SecretKey not set"},
		{storage.S3Config{Bucket: "b", AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret("s"), SessionToken: storage.NewSecret("to ken")}, "SessionToken holds a space"},
	} {
		_, err := storage.NewS3(context.Background(), tt.cfg)
		require.ErrorIs(t, err, fs.ErrInvalid, tt.want)
		assert.Contains(t, err.Error(), tt.want)
	}
	// A provider held by value may carry the keys in its fields: printing
	// the config shows only its type.
	cfg := storage.S3Config{Bucket: "b", Credentials: provider}
	outputs := printedForms(t, cfg, &cfg)
	for _, out := range outputs {
		assert.NotContains(t, out, "provider-SECRET", out)
	}
	assert.Contains(t, fmt.Sprintf("%+v", cfg), "Credentials:credentials.StaticCredentialsProvider")
	assert.Contains(t, fmt.Sprintf("%#v", cfg), `storage.S3Config{Bucket:"b"`)
}

// TestFromEnvCredentialsChoice checks how STORAGE_S3_CREDENTIALS combines
// with the other variables; no case does network I/O.
func TestFromEnvCredentialsChoice(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string // "" = success
	}{
		{map[string]string{"BUCKET_NAME": "b", "STORAGE_S3_CREDENTIALS": "default"}, ""},
		{map[string]string{"BUCKET_NAME": "b"}, "STORAGE_S3_CREDENTIALS=default"},
		{map[string]string{"BUCKET_NAME": "b", "AWS_KEY": "k", "STORAGE_S3_CREDENTIALS": "default"}, "needs BUCKET_NAME set and AWS_KEY and AWS_SECRET unset; BUCKET_NAME and AWS_KEY are set but AWS_SECRET is not"},
		{map[string]string{"BUCKET_NAME": "b", "AWS_KEY": "k", "AWS_SECRET": "s", "STORAGE_S3_CREDENTIALS": "default"}, "BUCKET_NAME and AWS_KEY and AWS_SECRET are set"},
		{map[string]string{"STORAGE_S3_CREDENTIALS": "default"}, "none of BUCKET_NAME, AWS_KEY, AWS_SECRET is set"},
		{map[string]string{"BUCKET_NAME": "b", "STORAGE_S3_CREDENTIALS": "instance-role"}, `STORAGE_S3_CREDENTIALS must be "default"`},
		{map[string]string{"AWS_SESSION_TOKEN": "token"}, ""}, // Local: the token alone selects nothing
	} {
		t.Run(fmt.Sprint(tt.env), func(t *testing.T) {
			clearEnv(t)
			t.Setenv("STORAGE_DIR", t.TempDir())
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			st, err := storage.FromEnv()
			if tt.want != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.want)
				return
			}
			require.NoError(t, err)
			defer st.Close()
			if tt.env["BUCKET_NAME"] != "" {
				assert.IsType(t, &storage.S3{}, st)
			} else {
				assert.IsType(t, &storage.Local{}, st)
			}
		})
	}
}

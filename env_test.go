package storage_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/orga-server/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFromEnv(t *testing.T) {
	vars := []struct{ name, value string }{
		{"BUCKET_NAME", "bucket-value-1"},
		{"AWS_KEY", "key-value-2"},
		{"AWS_SECRET", "secret-value-3"},
	}
	for mask := range 1 << len(vars) {
		var set, missing []string
		for i, v := range vars {
			if mask&(1<<i) != 0 {
				set = append(set, v.name)
			} else {
				missing = append(missing, v.name)
			}
		}
		t.Run(strings.Join(append([]string{"set"}, set...), "-"), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "media")
			t.Setenv("STORAGE_DIR", dir)
			t.Setenv("AWS_ENDPOINT_URL", "")
			t.Setenv("AWS_ENDPOINT_URL_S3", "")
			for i, v := range vars {
				if mask&(1<<i) != 0 {
					t.Setenv(v.name, v.value)
				} else {
					t.Setenv(v.name, "")
				}
			}
			s, err := storage.FromEnv()
			if err == nil {
				// Windows keeps a folder an open handle holds from being removed.
				defer s.Close()
			}
			switch len(set) {
			case 0:
				require.NoError(t, err)
				require.IsType(t, &storage.Local{}, s)
				assert.DirExists(t, dir, "the directory is created")
				u, err := s.URL("events/42/logo.png")
				require.NoError(t, err)
				assert.Equal(t, "/static/media/events/42/logo.png", u)
			case len(vars):
				require.NoError(t, err, "no network I/O happens here")
				require.IsType(t, &storage.S3{}, s)
			default:
				require.Error(t, err)
				for _, name := range missing {
					assert.Contains(t, err.Error(), name, "the error names what is missing")
				}
				for _, v := range vars {
					assert.NotContains(t, err.Error(), v.value, "no value is printed")
				}
			}
		})
	}
}

func TestFromEnvLocalSettings(t *testing.T) {
	for _, name := range []string{"BUCKET_NAME", "AWS_KEY", "AWS_SECRET"} {
		t.Setenv(name, "")
	}
	t.Setenv("STORAGE_DIR", t.TempDir())
	t.Setenv("STORAGE_URL", "https://cdn.example.org/media")
	s, err := storage.FromEnv()
	require.NoError(t, err)
	defer s.Close()
	u, err := s.URL("a b/c.png")
	require.NoError(t, err)
	assert.Equal(t, "https://cdn.example.org/media/a%20b/c.png", u)

	t.Setenv("STORAGE_SIGNING_KEY", "too-short-secret")
	_, err = storage.FromEnv()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "STORAGE_SIGNING_KEY")
	assert.NotContains(t, err.Error(), "too-short-secret")
}

func TestEnvRedactsSecrets(t *testing.T) {
	t.Setenv("AWS_SECRET", "secret-value-3")
	t.Setenv("STORAGE_SIGNING_KEY", "signing-secret-0123456789abcdef0123")
	t.Setenv("BUCKET_NAME", "orga-media")
	seen := map[string]string{}
	for _, v := range storage.Env() {
		seen[v.Name] = v.Value
		assert.NotEmpty(t, v.Usage, v.Name)
	}
	assert.Equal(t, "orga-media", seen["BUCKET_NAME"])
	assert.Equal(t, "[redacted]", seen["AWS_SECRET"])
	assert.Equal(t, "[redacted]", seen["STORAGE_SIGNING_KEY"])
}

// TestFromEnvPaddedValues refuses S3 variables with white space at an end,
// as a value copied from a secrets file often has, rather than failing at
// the first request with a signature mismatch.
func TestFromEnvPaddedValues(t *testing.T) {
	for _, tt := range []struct {
		bucket, key, secret string
		named               []string
	}{
		{"media", "AKIAEXAMPLE", "secret-value\n", []string{"AWS_SECRET has"}},
		{"media ", " AKIAEXAMPLE", "secret-value", []string{"BUCKET_NAME and AWS_KEY have"}},
		{"media", "AKIAEXAMPLE", " ", []string{"AWS_SECRET has"}},
		{"\tmedia", "", "", []string{"BUCKET_NAME has"}},
	} {
		t.Setenv("STORAGE_DIR", t.TempDir())
		t.Setenv("BUCKET_NAME", tt.bucket)
		t.Setenv("AWS_KEY", tt.key)
		t.Setenv("AWS_SECRET", tt.secret)
		_, err := storage.FromEnv()
		require.Error(t, err, "%q", tt)
		for _, named := range tt.named {
			assert.Contains(t, err.Error(), named+" white space")
		}
		assert.NotContains(t, err.Error(), "secret-value")
	}
}

// TestNewS3RefusesKeysWithSpaces refuses credentials no S3 key can hold,
// without printing them.
func TestNewS3RefusesKeysWithSpaces(t *testing.T) {
	for _, cfg := range []storage.S3Config{
		{Bucket: "media", AccessKey: "AKIA EXAMPLE", SecretKey: storage.NewSecret("secret-value")},
		{Bucket: "media", AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret("secret-value\r\n")},
		{Bucket: "media", AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret("secret-valué")},
	} {
		_, err := storage.NewS3(context.Background(), cfg)
		require.ErrorIs(t, err, fs.ErrInvalid, "%q", cfg.AccessKey)
		assert.NotContains(t, err.Error(), "secret-val")
		assert.NotContains(t, err.Error(), "AKIA")
	}
	_, err := storage.NewS3(context.Background(), storage.S3Config{Bucket: "media", AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")})
	require.NoError(t, err, "AWS's secret alphabet, / and + included")
}

// TestFromEnvErrorIsNilStorage checks that a failing FromEnv returns a nil
// Storage, not a nil *Local or *S3 inside one, which st == nil misses and
// a type switch takes for a backend.
func TestFromEnvErrorIsNilStorage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a.txt")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	for name, env := range map[string]map[string]string{
		"STORAGE_DIR a file":        {"STORAGE_DIR": file},
		"short STORAGE_SIGNING_KEY": {"STORAGE_DIR": t.TempDir(), "STORAGE_SIGNING_KEY": "short"},
		"S3 endpoint not a URL":     {"BUCKET_NAME": "b", "AWS_KEY": "k", "AWS_SECRET": "s", "AWS_ENDPOINT_URL_S3": "ftp://x"},
		"S3 half configured":        {"BUCKET_NAME": "b"},
	} {
		for _, v := range []string{"BUCKET_NAME", "AWS_KEY", "AWS_SECRET", "AWS_ENDPOINT_URL_S3", "STORAGE_DIR", "STORAGE_SIGNING_KEY"} {
			t.Setenv(v, env[v])
		}
		st, err := storage.FromEnv()
		require.Error(t, err, name)
		assert.True(t, st == nil, "%s: FromEnv returned %#v with its error", name, st)
	}
}

// TestUnknownACLListsKnown: a mistyped STORAGE_ACL is answered with the
// values that would do.
func TestUnknownACLListsKnown(t *testing.T) {
	_, err := storage.NewS3(context.Background(), storage.S3Config{Bucket: "media", AccessKey: "AKIAEXAMPLE", SecretKey: storage.NewSecret("secret-value"), ACL: "public"})
	require.ErrorIs(t, err, fs.ErrInvalid)
	assert.Contains(t, err.Error(), `unknown canned ACL "public"; the canned ACLs are private, public-read, public-read-write, authenticated-read`)
}

// TestFromEnvTransportSettings reads the retry, addressing, encryption and
// storage class variables into the S3Config, and refuses a bad value naming the variable without
// printing any value, a secret least of all.
func TestFromEnvTransportSettings(t *testing.T) {
	setS3 := func(t *testing.T) {
		for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "STORAGE_URL", "STORAGE_ACL", "STORAGE_S3_CREDENTIALS", "AWS_SESSION_TOKEN"} {
			t.Setenv(name, "")
		}
		for _, v := range [...]struct{ name, value string }{
			{"BUCKET_NAME", "orga-media"}, {"AWS_KEY", "key-value-2"}, {"AWS_SECRET", "secret-value-3"},
			{"AWS_ENDPOINT_URL_S3", "https://objects.example.net"},
			{"AWS_MAX_ATTEMPTS", ""}, {"AWS_RETRY_MODE", ""}, {"STORAGE_S3_ADDRESSING", ""},
			{"STORAGE_SSE", ""}, {"STORAGE_KMS_KEY_ID", ""}, {"STORAGE_S3_STORAGE_CLASS", ""},
		} {
			t.Setenv(v.name, v.value)
		}
	}

	setS3(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "5")
	t.Setenv("AWS_RETRY_MODE", "adaptive")
	t.Setenv("STORAGE_S3_ADDRESSING", "virtual")
	t.Setenv("STORAGE_SSE", "aws:kms")
	t.Setenv("STORAGE_KMS_KEY_ID", "alias/orga-media")
	t.Setenv("STORAGE_S3_STORAGE_CLASS", "STANDARD_IA")
	st, err := storage.FromEnv()
	require.NoError(t, err)
	s, ok := st.(*storage.S3)
	require.True(t, ok, "FromEnv returned %T", st)
	cfg := s.Config()
	assert.Equal(t, 5, cfg.MaxAttempts)
	assert.Equal(t, aws.RetryModeAdaptive, cfg.RetryMode)
	assert.Equal(t, "virtual", cfg.Addressing)
	assert.Equal(t, "aws:kms", cfg.ServerSideEncryption)
	assert.Equal(t, "alias/orga-media", cfg.KMSKeyID)
	assert.Equal(t, "STANDARD_IA", cfg.StorageClass)
	u, err := s.URL("events/1/a.png")
	require.NoError(t, err)
	assert.Equal(t, "https://orga-media.objects.example.net/events/1/a.png", u)

	for _, tt := range []struct{ name, value string }{
		{"AWS_MAX_ATTEMPTS", "three"},
		{"AWS_MAX_ATTEMPTS", "0"},
		{"AWS_MAX_ATTEMPTS", "-2"},
		{"AWS_RETRY_MODE", "legacy"},
		{"STORAGE_S3_ADDRESSING", "vhost"},
		{"STORAGE_SSE", "kms"},
		{"STORAGE_KMS_KEY_ID", "alias/orga-media"}, // without STORAGE_SSE=aws:kms
		{"STORAGE_S3_STORAGE_CLASS", "COLD"},
		{"STORAGE_ACL", "public"},
	} {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			setS3(t)
			t.Setenv(tt.name, tt.value)
			st, err := storage.FromEnv()
			require.Error(t, err)
			assert.Nil(t, st)
			assert.Contains(t, err.Error(), tt.name, "the error names the variable")
			for _, secret := range []string{"secret-value-3", "key-value-2"} {
				assert.NotContains(t, err.Error(), secret)
			}
		})
	}

	// Virtual hosts need a host name: the error names both variables.
	setS3(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")
	t.Setenv("STORAGE_S3_ADDRESSING", "virtual")
	_, err = storage.FromEnv()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `STORAGE_S3_ADDRESSING "virtual" needs a host name in the endpoint (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL)`)

	seen := map[string]bool{}
	for _, v := range storage.Env() {
		seen[v.Name] = v.Usage != ""
	}
	for _, name := range []string{"AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "STORAGE_S3_ADDRESSING", "STORAGE_SSE", "STORAGE_KMS_KEY_ID", "STORAGE_S3_STORAGE_CLASS"} {
		assert.True(t, seen[name], "storage.Env documents %s", name)
	}
}

// TestS3FromEnvBucket configures another bucket than BUCKET_NAME with the same
// variables, credentials included.
func TestS3FromEnvBucket(t *testing.T) {
	set := func(t *testing.T, vars ...string) {
		for _, name := range []string{"BUCKET_NAME", "AWS_KEY", "AWS_SECRET", "AWS_SESSION_TOKEN", "STORAGE_S3_CREDENTIALS",
			"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "STORAGE_URL", "STORAGE_ACL",
			"AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "STORAGE_S3_ADDRESSING", "STORAGE_SSE", "STORAGE_KMS_KEY_ID", "STORAGE_S3_STORAGE_CLASS"} {
			t.Setenv(name, "")
		}
		for _, kv := range vars {
			name, value, _ := strings.Cut(kv, "=")
			t.Setenv(name, value)
		}
	}

	t.Run("keys", func(t *testing.T) {
		// BUCKET_NAME unset: the local storage is the default, and another
		// bucket is still reachable with the keys.
		set(t, "AWS_KEY=key-value-2", "AWS_SECRET=secret-value-3", "AWS_REGION=eu-west-3",
			"AWS_ENDPOINT_URL=https://objects.example.net", "STORAGE_ACL=public-read", "STORAGE_S3_STORAGE_CLASS=STANDARD_IA",
			"STORAGE_URL=/static/media/")
		s, err := storage.S3FromEnv("archive")
		require.NoError(t, err, "STORAGE_URL, a local path here, is not the bucket's")
		cfg := s.Config()
		assert.Equal(t, "archive", cfg.Bucket)
		creds, err := s.Credentials(context.Background())
		require.NoError(t, err, "static keys need no network")
		assert.Equal(t, "key-value-2", creds.AccessKey)
		assert.Equal(t, "AWS_KEY and AWS_SECRET", creds.Source)
		assert.Equal(t, "eu-west-3", cfg.Region)
		assert.Equal(t, "https://objects.example.net", cfg.Endpoint)
		assert.Equal(t, "public-read", cfg.ACL)
		assert.Equal(t, "STANDARD_IA", cfg.StorageClass)
		assert.Empty(t, cfg.PublicURL)
		u, err := s.URL("a.png")
		require.NoError(t, err)
		assert.Equal(t, "https://objects.example.net/archive/a.png", u)
	})

	t.Run("STORAGE_URL for BUCKET_NAME only", func(t *testing.T) {
		set(t, "BUCKET_NAME=media", "AWS_KEY=key-value-2", "AWS_SECRET=secret-value-3", "STORAGE_URL=https://cdn.example.org")
		s, err := storage.S3FromEnv("media")
		require.NoError(t, err)
		u, err := s.URL("a.png")
		require.NoError(t, err)
		assert.Equal(t, "https://cdn.example.org/a.png", u)
		s, err = storage.S3FromEnv("other")
		require.NoError(t, err)
		assert.Empty(t, s.Config().PublicURL)
	})

	t.Run("default chain", func(t *testing.T) {
		set(t, "STORAGE_S3_CREDENTIALS=default", "AWS_REGION=us-east-1", "AWS_CONFIG_FILE="+filepath.Join(t.TempDir(), "none"))
		s, err := storage.S3FromEnv("archive")
		require.NoError(t, err)
		assert.NotNil(t, s.Config().Credentials)
	})

	for _, tt := range []struct {
		name   string
		vars   []string
		bucket string
		want   []string
	}{
		{"no credentials", nil, "archive", []string{`bucket "archive" needs credentials`, "none of AWS_KEY, AWS_SECRET is set", "STORAGE_S3_CREDENTIALS=default"}},
		{"key only", []string{"AWS_KEY=key-value-2"}, "archive", []string{"AWS_KEY is set but AWS_SECRET is not"}},
		{"chain and keys", []string{"STORAGE_S3_CREDENTIALS=default", "AWS_SECRET=secret-value-3"}, "archive", []string{"STORAGE_S3_CREDENTIALS=default", "AWS_SECRET is set"}},
		{"padded", []string{"AWS_KEY=key-value-2", "AWS_SECRET=secret-value-3\n"}, "archive", []string{"AWS_SECRET has white space"}},
		{"bad setting", []string{"AWS_KEY=key-value-2", "AWS_SECRET=secret-value-3", "STORAGE_SSE=kms"}, "archive", []string{"STORAGE_SSE"}},
		{"no bucket", []string{"AWS_KEY=key-value-2", "AWS_SECRET=secret-value-3"}, "", []string{"Bucket"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			set(t, tt.vars...)
			s, err := storage.S3FromEnv(tt.bucket)
			require.Error(t, err)
			assert.Nil(t, s)
			for _, want := range tt.want {
				assert.Contains(t, err.Error(), want)
			}
			assert.NotContains(t, err.Error(), "secret-value-3")
		})
	}
}

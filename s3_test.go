package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/orga-server/storage"
	"github.com/orga-server/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// minio describes the MinIO servers that scripts/minio starts; see its
// environment file for the variables.
type minio struct {
	endpoint, bucket, accessKey, secretKey string
	publicBucket                           string
	restrictedBucket                       string
	restrictedKey, restrictedSecret        string
	noPutKey, noPutSecret                  string
	readOnlyKey, readOnlySecret            string
	regionalEndpoint, regionalRegion       string
}

// needMinIO returns the test servers, or skips the test when there are none;
// under CI=true a missing server fails the test instead, so that CI can never
// pass without running the S3 tests.
func needMinIO(t *testing.T) minio {
	t.Helper()
	cfg := storage.MinIOConfig(t)
	get := func(name string) string { return os.Getenv("STORAGE_TEST_S3_" + name) }
	return minio{
		endpoint:         cfg.Endpoint,
		bucket:           cfg.Bucket,
		accessKey:        cfg.AccessKey,
		secretKey:        get("SECRET_KEY"),
		publicBucket:     get("PUBLIC_BUCKET"),
		restrictedBucket: get("RESTRICTED_BUCKET"),
		restrictedKey:    get("RESTRICTED_ACCESS_KEY"),
		restrictedSecret: get("RESTRICTED_SECRET_KEY"),
		noPutKey:         get("NOPUT_ACCESS_KEY"),
		noPutSecret:      get("NOPUT_SECRET_KEY"),
		readOnlyKey:      get("READONLY_ACCESS_KEY"),
		readOnlySecret:   get("READONLY_SECRET_KEY"),
		regionalEndpoint: get("REGIONAL_ENDPOINT"),
		regionalRegion:   get("REGIONAL_REGION"),
	}
}

// config returns the configuration of the main test bucket with root
// credentials.
func (m minio) config() storage.S3Config {
	return storage.S3Config{Bucket: m.bucket, AccessKey: m.accessKey, SecretKey: storage.NewSecret(m.secretKey), Endpoint: m.endpoint}
}

func newS3(t *testing.T, cfg storage.S3Config) *storage.S3 {
	t.Helper()
	s, err := storage.NewS3(context.Background(), cfg)
	require.NoError(t, err)
	return s
}

// emptyS3 returns a backend on an empty bucket, emptied again after the test.
func emptyS3(t *testing.T, cfg storage.S3Config) *storage.S3 {
	t.Helper()
	s := newS3(t, cfg)
	empty(t, s)
	t.Cleanup(func() { empty(t, s) })
	return s
}

// empty deletes every object in the bucket, one top-level prefix at a time,
// since DeletePrefix refuses the empty prefix.
func empty(t *testing.T, s *storage.S3) {
	t.Helper()
	ctx := context.Background()
	var top []storage.Info
	for info, err := range s.List(ctx, "", &storage.ListOptions{Delimiter: "/"}) {
		require.NoError(t, err)
		top = append(top, info)
	}
	for _, info := range top {
		if info.IsDir {
			_, err := s.DeletePrefix(ctx, info.Key)
			require.NoError(t, err)
		} else {
			require.NoError(t, s.Delete(ctx, info.Key))
		}
	}
}

// rawClient is a plain SDK client, for what the Storage API does not show,
// such as multipart uploads in progress.
func rawClient(endpoint, region, accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	})
}

// multipartUploads lists the unfinished multipart uploads of key. (MinIO
// matches a listing's prefix only against whole keys.)
func multipartUploads(t *testing.T, m minio, key string) []string {
	t.Helper()
	out, err := rawClient(m.endpoint, "us-east-1", m.accessKey, m.secretKey).ListMultipartUploads(context.Background(),
		&s3.ListMultipartUploadsInput{Bucket: aws.String(m.bucket), Prefix: aws.String(key)})
	require.NoError(t, err)
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// abortUploads aborts the unfinished multipart uploads of key, left over
// from an earlier run.
func abortUploads(t *testing.T, m minio, key string) {
	t.Helper()
	ctx := context.Background()
	c := rawClient(m.endpoint, "us-east-1", m.accessKey, m.secretKey)
	out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(m.bucket), Prefix: aws.String(key)})
	require.NoError(t, err)
	for _, u := range out.Uploads {
		_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(m.bucket), Key: u.Key, UploadId: u.UploadId})
		require.NoError(t, err)
	}
}

func TestS3Conformance(t *testing.T) {
	m := needMinIO(t)
	storagetest.Run(t, func(t *testing.T) storage.Storage { return emptyS3(t, m.config()) })
}

func TestS3ConformanceHTTP(t *testing.T) {
	m := needMinIO(t)
	storagetest.RunHTTP(t, func(t *testing.T) storage.Storage { return emptyS3(t, m.config()) })
}

// TestS3ConformanceRestricted runs the suite as a user holding exactly the
// IAM policy of the setup guide (docs/s3-setup.md).
func TestS3ConformanceRestricted(t *testing.T) {
	m := needMinIO(t)
	cfg := storage.S3Config{Bucket: m.restrictedBucket, AccessKey: m.restrictedKey, SecretKey: storage.NewSecret(m.restrictedSecret), Endpoint: m.endpoint}
	storagetest.Run(t, func(t *testing.T) storage.Storage { return emptyS3(t, cfg) })
}

func TestS3WithoutPutObject(t *testing.T) {
	m := needMinIO(t)
	ctx := context.Background()
	owner := emptyS3(t, storage.S3Config{Bucket: m.restrictedBucket, AccessKey: m.restrictedKey, SecretKey: storage.NewSecret(m.restrictedSecret), Endpoint: m.endpoint})
	_, err := owner.Put(ctx, "existing.txt", strings.NewReader("hello"), nil)
	require.NoError(t, err)

	s := newS3(t, storage.S3Config{Bucket: m.restrictedBucket, AccessKey: m.noPutKey, SecretKey: storage.NewSecret(m.noPutSecret), Endpoint: m.endpoint})
	_, err = s.Put(ctx, "events/1/logo.png", strings.NewReader("png"), nil)
	require.ErrorIs(t, err, fs.ErrPermission)
	assert.Contains(t, err.Error(), `storage: put "events/1/logo.png": `)
	assert.Contains(t, err.Error(), "s3:PutObject")
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", err, err, err), m.noPutSecret)

	_, err = s.Copy(ctx, "copy.txt", "existing.txt")
	require.ErrorIs(t, err, fs.ErrPermission)

	// What the policy grants still works.
	info, err := s.Stat(ctx, "existing.txt")
	require.NoError(t, err)
	assert.Equal(t, int64(5), info.Size)
	_, err = s.Stat(ctx, "missing.txt")
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.NoError(t, s.Delete(ctx, "existing.txt"))
}

// TestS3DeletePrefixWithoutDeleteObject checks that a DeletePrefix the
// policy forbids says so, deletes nothing and counts nothing, although its
// requests run concurrently.
func TestS3DeletePrefixWithoutDeleteObject(t *testing.T) {
	m := needMinIO(t)
	ctx := context.Background()
	owner := emptyS3(t, storage.S3Config{Bucket: m.restrictedBucket, AccessKey: m.restrictedKey, SecretKey: storage.NewSecret(m.restrictedSecret), Endpoint: m.endpoint})
	const n = 2500 // three pages of a listing
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("exports/%04d.csv", i))
	}
	putConcurrently(t, owner, want)

	s := newS3(t, storage.S3Config{Bucket: m.restrictedBucket, AccessKey: m.readOnlyKey, SecretKey: storage.NewSecret(m.readOnlySecret), Endpoint: m.endpoint})
	deleted, err := s.DeletePrefix(ctx, "exports/")
	require.ErrorIs(t, err, fs.ErrPermission)
	assert.Contains(t, err.Error(), `storage: delete prefix "exports/": `)
	assert.Contains(t, err.Error(), "s3:DeleteObject")
	assert.Equal(t, 0, deleted)

	var got []string
	for info, err := range owner.List(ctx, "exports/", nil) {
		require.NoError(t, err)
		got = append(got, info.Key)
	}
	assert.Equal(t, want, got, "every object is still there")
}

func TestS3WrongCredentials(t *testing.T) {
	m := needMinIO(t)
	ctx := context.Background()
	for name, cfg := range map[string]storage.S3Config{
		"secret": {Bucket: m.bucket, AccessKey: m.accessKey, SecretKey: storage.NewSecret("wrong-secret-0123456789"), Endpoint: m.endpoint},
		"key":    {Bucket: m.bucket, AccessKey: "unknown-key", SecretKey: storage.NewSecret("wrong-secret-0123456789"), Endpoint: m.endpoint},
	} {
		t.Run(name, func(t *testing.T) {
			s := newS3(t, cfg)
			_, err := s.Stat(ctx, "a.txt")
			require.ErrorIs(t, err, fs.ErrPermission)
			_, err = s.Put(ctx, "a.txt", strings.NewReader("a"), nil)
			require.ErrorIs(t, err, fs.ErrPermission)
			assert.Contains(t, err.Error(), `storage: put "a.txt": `)
			assert.Contains(t, err.Error(), map[string]string{"secret": "(check SecretKey)", "key": "(check AccessKey)"}[name], "NewS3's errors name the S3Config field")
			for _, text := range []string{fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				assert.NotContains(t, text, "wrong-secret-0123456789")
			}
		})
	}
}

func TestS3MissingBucket(t *testing.T) {
	m := needMinIO(t)
	cfg := m.config()
	cfg.Bucket = "no-such-bucket"
	cfg.Region = "us-east-1" // no region lookup, which would name the bucket missing first
	s := newS3(t, cfg)
	ctx := context.Background()
	for name, op := range map[string]func() error{
		"get":  func() error { _, err := s.Get(ctx, "a.txt"); return err },
		"stat": func() error { _, err := s.Stat(ctx, "a.txt"); return err }, // a HEAD: its 404 has no body
		"copy": func() error { _, err := s.Copy(ctx, "b.txt", "a.txt"); return err },
	} {
		err := op()
		require.Error(t, err, name)
		assert.NotErrorIs(t, err, fs.ErrNotExist, "%s: a missing bucket is a misconfiguration, not a missing object", name)
		assert.Contains(t, err.Error(), `bucket "no-such-bucket" does not exist`, name)
	}
}

// TestS3ErrorsKeepSDKDetails checks that callers can still reach the SDK's
// error through the storage error.
func TestS3ErrorsKeepSDKDetails(t *testing.T) {
	m := needMinIO(t)
	s := newS3(t, m.config())
	_, err := s.Get(context.Background(), "missing/object.txt")
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, `storage: get "missing/object.txt": object does not exist`, err.Error())
	var noSuchKey interface{ ErrorCode() string }
	require.True(t, errors.As(err, &noSuchKey))
	assert.Equal(t, "NoSuchKey", noSuchKey.ErrorCode())
}

func TestS3ACLOnMinIO(t *testing.T) {
	m := needMinIO(t)
	cfg := m.config()
	cfg.ACL = "public-read"
	s := emptyS3(t, cfg)
	ctx := context.Background()
	_, err := s.Put(ctx, "acl.txt", strings.NewReader("acl"), nil)
	require.NoError(t, err)
	_, err = s.Copy(ctx, "acl-copy.txt", "acl.txt")
	require.NoError(t, err)
	_, err = s.Put(ctx, "private.txt", strings.NewReader("private"), &storage.PutOptions{Private: true})
	require.NoError(t, err)
	_, err = s.Copy(ctx, "private-copy.txt", "private.txt")
	require.NoError(t, err)
	r, err := s.Get(ctx, "acl-copy.txt")
	require.NoError(t, err)
	defer r.Close()
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "acl", string(data))
}

// TestS3StatPrivate: with ACLs in use (S3Config.ACL set), Stat reads the
// object's ACL to report Private, as stat and put --private show it;
// without, it sends no ACL request and reports false, the bucket policy
// deciding who reads.
func TestS3StatPrivate(t *testing.T) {
	m := needMinIO(t)
	ctx := context.Background()
	cfg := m.config()
	cfg.ACL = "public-read"
	s := emptyS3(t, cfg)
	put, err := s.Put(ctx, "private.txt", strings.NewReader("private"), &storage.PutOptions{Private: true})
	require.NoError(t, err)
	assert.True(t, put.Private, "Put's Info says so too")
	info, err := s.Stat(ctx, "private.txt")
	require.NoError(t, err)
	assert.True(t, info.Private, "a private object's ACL grants its owner alone")
	counted, withACL := newS3(t, cfg), &requestCounter{}
	storage.SendThrough(counted, withACL)
	info, err = counted.Stat(ctx, "private.txt")
	require.NoError(t, err)
	assert.True(t, info.Private)
	assert.Equal(t, 1, withACL.counts()["GET ?acl"], "Stat reads the ACL once, as the counter sees it: %v", withACL.counts())
	copied, err := s.Copy(ctx, "private-copy.txt", "private.txt")
	require.NoError(t, err)
	assert.True(t, copied.Private, "a copy of a private object is private")
	// MinIO keeps no ACLs and answers every GetObjectAcl with the owner's
	// grant alone, so a public-read object is not told apart here; AWS
	// answers with the AllUsers grant, which makes Private false.

	plain, requests := countingS3(t, m, m.bucket)
	info, err = plain.Stat(ctx, "private.txt")
	require.NoError(t, err)
	assert.False(t, info.Private, "without ACLs in use, S3 cannot tell")
	assert.Zero(t, requests.counts()["GET ?acl"], "no ACL read without ACLs in use: %v", requests.counts())
}

// TestS3FromEnv configures S3 the way orga-server's deployments do, with
// nothing but the variables of the setup guide and an endpoint.
func TestS3FromEnv(t *testing.T) {
	m := needMinIO(t)
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3", "STORAGE_URL", "STORAGE_ACL", "STORAGE_DIR"} {
		t.Setenv(name, "")
	}
	t.Setenv("BUCKET_NAME", m.bucket)
	t.Setenv("AWS_KEY", m.accessKey)
	t.Setenv("AWS_SECRET", m.secretKey)
	t.Setenv("AWS_ENDPOINT_URL", m.endpoint)

	st, err := storage.FromEnv()
	require.NoError(t, err)
	s, ok := st.(*storage.S3)
	require.True(t, ok, "FromEnv returned %T", st)
	empty(t, s)
	t.Cleanup(func() { empty(t, s) })
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", s, s, s), m.secretKey)

	ctx := context.Background()
	info, err := s.Put(ctx, "events/1/logo.png", strings.NewReader("\x89PNG\r\n\x1a\n"), nil)
	require.NoError(t, err)
	assert.Equal(t, "image/png", info.ContentType)
	var keys []string
	for info, err := range s.List(ctx, "events/", nil) {
		require.NoError(t, err)
		keys = append(keys, info.Key)
	}
	assert.Equal(t, []string{"events/1/logo.png"}, keys)
	u, err := s.URL("events/1/logo.png")
	require.NoError(t, err)
	assert.Equal(t, m.endpoint+"/"+m.bucket+"/events/1/logo.png", u)
}

func TestS3RangeEdges(t *testing.T) {
	m := needMinIO(t)
	s := emptyS3(t, m.config())
	ctx := context.Background()
	_, err := s.Put(ctx, "a.txt", strings.NewReader("hello world"), nil)
	require.NoError(t, err)
	_, err = s.Put(ctx, "empty.txt", strings.NewReader(""), nil)
	require.NoError(t, err)
	for _, tt := range []struct {
		key            string
		offset, length int64
		want           string
	}{
		{"a.txt", 3, math.MaxInt64, "lo world"},
		{"a.txt", 0, math.MaxInt64, "hello world"},
		{"a.txt", 10, 100, "d"},
		{"a.txt", 11, 5, ""},
		{"a.txt", 100, -1, ""},
		{"a.txt", 4, 0, ""},
		{"empty.txt", 0, 10, ""},
		{"empty.txt", 0, -1, ""},
	} {
		r, err := s.GetRange(ctx, tt.key, tt.offset, tt.length)
		require.NoError(t, err, "%+v", tt)
		got, err := io.ReadAll(r)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		assert.Equal(t, tt.want, string(got), "%+v", tt)
		assert.Equal(t, map[string]int64{"a.txt": 11, "empty.txt": 0}[tt.key], r.Info().Size, "%+v: the whole object's size", tt)
	}
	_, err = s.GetRange(ctx, "a.txt", -1, 2)
	require.ErrorIs(t, err, fs.ErrInvalid)
	_, err = s.GetRange(ctx, "missing.txt", 100, 1)
	require.ErrorIs(t, err, fs.ErrNotExist)
}

// putConcurrently puts every key, its own name as its content, 16 at a time.
func putConcurrently(t *testing.T, s storage.Storage, keys []string) {
	t.Helper()
	queue := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for key := range queue {
				_, err := s.Put(context.Background(), key, strings.NewReader(key), nil)
				assert.NoError(t, err)
			}
		})
	}
	for _, key := range keys {
		queue <- key
	}
	close(queue)
	wg.Wait()
}

// TestS3ManyKeys crosses ListObjectsV2's and DeleteObjects' limit of 1000
// keys a request.
func TestS3ManyKeys(t *testing.T) {
	m := needMinIO(t)
	s := emptyS3(t, m.config())
	ctx := context.Background()
	const n = 2100
	var want []string
	for i := range n {
		key := fmt.Sprintf("many/%04d.txt", i)
		if i%3 == 0 {
			key = fmt.Sprintf("many/%04d/x.txt", i) // interleaves with the files
		}
		want = append(want, key)
	}
	sort.Strings(want)
	putConcurrently(t, s, want)

	var got []string
	for info, err := range s.List(ctx, "many/", nil) {
		require.NoError(t, err)
		got = append(got, info.Key)
	}
	assert.Equal(t, want, got)

	var grouped []string
	dirs := 0
	for info, err := range s.List(ctx, "many/", &storage.ListOptions{Delimiter: "/"}) {
		require.NoError(t, err)
		grouped = append(grouped, info.Key)
		if info.IsDir {
			dirs++
		}
	}
	assert.True(t, sort.StringsAreSorted(grouped), "objects and prefixes merged in byte order")
	assert.Len(t, grouped, n)
	assert.Equal(t, n/3, dirs)

	deleted, err := storage.DeletePrefix(ctx, s, "many/")
	require.NoError(t, err)
	assert.Equal(t, n, deleted)
	for _, err := range s.List(ctx, "many/", nil) {
		require.NoError(t, err)
		t.Fatal("objects left after DeletePrefix")
	}
}

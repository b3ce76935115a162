package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"

	"github.com/orga-server/storage"
)

// store is what every contender does, each through its own library used the
// way its documentation suggests, with that library's defaults.
type store interface {
	// Put stores r under key. size is the length of r, or -1 when unknown;
	// small objects arrive as a *bytes.Reader, as they would in a program.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get reads the object to the end and returns its length. size is what
	// the caller expects, so that a library can pick its large-object path.
	Get(ctx context.Context, key string, size int64) (int64, error)
	Stat(ctx context.Context, key string) error
	// List counts the objects under prefix.
	List(ctx context.Context, prefix string) (int, error)
	Delete(ctx context.Context, key string) error
}

// The contenders, by name. ours marks this library's.
const (
	libS3      = "storage.S3"
	rawS3      = "aws-sdk-go-v2"
	minioGo    = "minio-go"
	s3blobName = "gocloud s3blob"
	libLocal   = "storage.Local"
	libHeaders = "storage.Local, file headers"
	plainOS    = "os"
	fileblobNm = "gocloud fileblob"
)

var (
	s3Contenders    = []string{libS3, rawS3, minioGo, s3blobName}
	localContenders = []string{libLocal, libHeaders, plainOS, fileblobNm}
)

func ours(name string) bool { return name == libS3 || name == libLocal }

// env is where the contenders store: a MinIO bucket and a local directory.
type env struct {
	Endpoint, Bucket, AccessKey, SecretKey string
	Dir                                    string // local contenders get a folder each inside
}

// envFromOS reads the MinIO environment that scripts/minio start writes.
func envFromOS() env {
	return env{Endpoint: os.Getenv("STORAGE_TEST_S3_ENDPOINT"), Bucket: os.Getenv("STORAGE_TEST_S3_BUCKET"),
		AccessKey: os.Getenv("STORAGE_TEST_S3_ACCESS_KEY"), SecretKey: os.Getenv("STORAGE_TEST_S3_SECRET_KEY")}
}

func (e env) s3Config() storage.S3Config {
	return storage.S3Config{Bucket: e.Bucket, AccessKey: e.AccessKey, SecretKey: storage.NewSecret(e.SecretKey),
		Region: "us-east-1", Endpoint: e.Endpoint}
}

// awsConfig is the plain SDK configuration a user of the raw SDK would write
// for MinIO: static credentials, an endpoint, and the SDK's defaults for the rest.
func (e env) awsConfig() aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(e.Endpoint),
		Credentials:  awscreds.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, ""),
	}
}

func (e env) rawClient() *s3.Client {
	return s3.NewFromConfig(e.awsConfig(), func(o *s3.Options) { o.UsePathStyle = true })
}

func openStore(ctx context.Context, name string, e env) (store, error) {
	switch name {
	case libS3:
		s, err := storage.NewS3(ctx, e.s3Config())
		return libStore{s}, err
	case rawS3:
		c := e.rawClient()
		return awsStore{c: c, tm: transfermanager.New(c), bucket: e.Bucket}, nil
	case minioGo:
		c, err := minio.New(strings.TrimPrefix(e.Endpoint, "http://"), &minio.Options{
			Creds:        miniocreds.NewStaticV4(e.AccessKey, e.SecretKey, ""),
			Region:       "us-east-1",
			BucketLookup: minio.BucketLookupPath,
		})
		return minioStore{c: c, bucket: e.Bucket}, err
	case s3blobName:
		b, err := s3blob.OpenBucket(ctx, e.rawClient(), e.Bucket, nil)
		return gocloudStore{b}, err
	case libLocal:
		l, err := storage.NewLocal(filepath.Join(e.Dir, "storage-local"), nil)
		return libStore{l}, err
	case libHeaders:
		// The mode file makes NewLocal keep attributes in file headers, as
		// it does on file systems without extended attributes, on the same
		// disk as the others.
		dir := filepath.Join(e.Dir, "storage-local-headers")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, `.orga-storage\mode`), []byte("attributes: file headers\n"), 0o644); err != nil {
			return nil, err
		}
		l, err := storage.NewLocal(dir, nil)
		if err == nil && l.Attributes() != "file headers" {
			err = fmt.Errorf("%s: attributes in %s", libHeaders, l.Attributes())
		}
		return libStore{l}, err
	case plainOS:
		dir := filepath.Join(e.Dir, "os")
		return osStore{dir}, os.MkdirAll(dir, 0o755)
	case fileblobNm:
		// NoTempDir: temporary files beside the target, as the others do,
		// so that the rename never crosses filesystems.
		b, err := fileblob.OpenBucket(filepath.Join(e.Dir, "fileblob"), &fileblob.Options{CreateDir: true, NoTempDir: true})
		return gocloudStore{b}, err
	}
	return nil, fmt.Errorf("unknown contender %q", name)
}

// drain reads r to the end through a pooled buffer. Every contender's reader
// is wrapped so that none gets a faster or slower copy path (WriterTo,
// ReaderFrom) than the others: the library is measured, not io.Copy.
func drain(r io.Reader) (int64, error) {
	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	return io.CopyBuffer(discard{}, struct{ io.Reader }{r}, *buf)
}

var buffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// libStore is this library, *S3 or *Local, through the Storage interface.
type libStore struct{ s storage.Storage }

func (l libStore) Put(ctx context.Context, key string, r io.Reader, _ int64) error {
	_, err := l.s.Put(ctx, key, r, nil)
	return err
}

func (l libStore) Get(ctx context.Context, key string, _ int64) (int64, error) {
	r, err := l.s.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return drain(r)
}

func (l libStore) Stat(ctx context.Context, key string) error {
	_, err := l.s.Stat(ctx, key)
	return err
}

func (l libStore) List(ctx context.Context, prefix string) (int, error) {
	n := 0
	for _, err := range l.s.List(ctx, prefix, nil) {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (l libStore) Delete(ctx context.Context, key string) error { return l.s.Delete(ctx, key) }

// awsStore is the raw SDK: PutObject, GetObject and HeadObject for small
// objects, the transfer manager (its defaults) for large or unsized ones.
type awsStore struct {
	c      *s3.Client
	tm     *transfermanager.Client
	bucket string
}

// largeObject is where awsStore switches to the transfer manager: its own
// multipart threshold.
const largeObject = 16 << 20

func (a awsStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	// PutObject needs a seekable body over plain HTTP (it hashes the payload
	// to sign it); in-memory small objects are one.
	if rs, ok := r.(io.ReadSeeker); ok && size >= 0 && size < largeObject {
		_, err := a.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &a.bucket, Key: &key, Body: rs, ContentLength: aws.Int64(size)})
		return err
	}
	_, err := a.tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: &a.bucket, Key: &key, Body: r})
	return err
}

func (a awsStore) Get(ctx context.Context, key string, size int64) (int64, error) {
	if size >= largeObject {
		out, err := a.tm.GetObject(ctx, &transfermanager.GetObjectInput{Bucket: &a.bucket, Key: &key})
		if err != nil {
			return 0, err
		}
		return drain(out.Body)
	}
	out, err := a.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &a.bucket, Key: &key})
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	return drain(out.Body)
}

func (a awsStore) Stat(ctx context.Context, key string) error {
	_, err := a.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &a.bucket, Key: &key})
	return err
}

func (a awsStore) List(ctx context.Context, prefix string) (int, error) {
	n := 0
	p := s3.NewListObjectsV2Paginator(a.c, &s3.ListObjectsV2Input{Bucket: &a.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, err
		}
		n += len(page.Contents)
	}
	return n, nil
}

func (a awsStore) Delete(ctx context.Context, key string) error {
	_, err := a.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &a.bucket, Key: &key})
	return err
}

// minioStore is minio-go with its defaults.
type minioStore struct {
	c      *minio.Client
	bucket string
}

func (m minioStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	_, err := m.c.PutObject(ctx, m.bucket, key, r, size, minio.PutObjectOptions{})
	return err
}

func (m minioStore) Get(ctx context.Context, key string, _ int64) (int64, error) {
	obj, err := m.c.GetObject(ctx, m.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return 0, err
	}
	defer obj.Close()
	return drain(obj)
}

func (m minioStore) Stat(ctx context.Context, key string) error {
	_, err := m.c.StatObject(ctx, m.bucket, key, minio.StatObjectOptions{})
	return err
}

func (m minioStore) List(ctx context.Context, prefix string) (int, error) {
	n := 0
	for obj := range m.c.ListObjects(ctx, m.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return n, obj.Err
		}
		n++
	}
	return n, nil
}

func (m minioStore) Delete(ctx context.Context, key string) error {
	return m.c.RemoveObject(ctx, m.bucket, key, minio.RemoveObjectOptions{})
}

// gocloudStore is a Go CDK bucket: s3blob or fileblob.
type gocloudStore struct{ b *blob.Bucket }

func (g gocloudStore) Put(ctx context.Context, key string, r io.Reader, _ int64) error {
	w, err := g.b.NewWriter(ctx, key, nil)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func (g gocloudStore) Get(ctx context.Context, key string, _ int64) (int64, error) {
	r, err := g.b.NewReader(ctx, key, nil)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return drain(r)
}

func (g gocloudStore) Stat(ctx context.Context, key string) error {
	_, err := g.b.Attributes(ctx, key)
	return err
}

func (g gocloudStore) List(ctx context.Context, prefix string) (int, error) {
	n := 0
	it := g.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		_, err := it.Next(ctx)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

func (g gocloudStore) Delete(ctx context.Context, key string) error { return g.b.Delete(ctx, key) }

// osStore is what a program would write with package os for the guarantee
// *Local gives: a temporary file beside the target, fsync, rename, and an
// fsync of the folder so that the rename itself survives a crash.
type osStore struct{ dir string }

func (o osStore) Put(_ context.Context, key string, r io.Reader, _ int64) error {
	name := filepath.Join(o.dir, filepath.FromSlash(key))
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (o osStore) Get(_ context.Context, key string, _ int64) (int64, error) {
	f, err := os.Open(filepath.Join(o.dir, filepath.FromSlash(key)))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return drain(f)
}

func (o osStore) Stat(_ context.Context, key string) error {
	_, err := os.Stat(filepath.Join(o.dir, filepath.FromSlash(key)))
	return err
}

func (o osStore) List(_ context.Context, prefix string) (int, error) {
	// Walk the folder holding the prefix and count what matches it, as a
	// byte-prefix listing must.
	base := prefix[:strings.LastIndex(prefix, "/")+1]
	n := 0
	err := filepath.WalkDir(filepath.Join(o.dir, filepath.FromSlash(base)), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return err
		}
		rel, _ := filepath.Rel(o.dir, p)
		if strings.HasPrefix(filepath.ToSlash(rel), prefix) {
			n++
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return n, err
}

func (o osStore) Delete(_ context.Context, key string) error {
	err := os.Remove(filepath.Join(o.dir, filepath.FromSlash(key)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// small returns a reader for an in-memory object.
func small(b []byte) io.Reader { return bytes.NewReader(b) }

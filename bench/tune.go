package main

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The S3 backend's part size and concurrency are constants of the library,
// so -tune measures the same path with other values: the transfer manager
// on a client configured as *S3 configures its own (the SDK's flexible
// checksums only when required; Content-MD5 on data requests over HTTPS
// only, where the signature leaves the body out).

// libraryLikeClient is an s3.Client set up as storage.NewS3 sets up its own,
// with Content-MD5 on data requests as over HTTPS when md5 is set.
func (e env) libraryLikeClient(md5 bool) *s3.Client {
	cfg := e.awsConfig()
	cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	if md5 {
		cfg.APIOptions = []func(*middleware.Stack) error{addContentMD5}
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// addContentMD5 mirrors the library's Content-MD5 middleware over HTTPS.
func addContentMD5(stack *middleware.Stack) error {
	switch stack.ID() {
	case "PutObject", "UploadPart":
	default:
		return nil
	}
	if _, ok := stack.Build.Get("ContentChecksum"); ok {
		return nil
	}
	return smithyhttp.AddContentChecksumMiddleware(stack)
}

var (
	tuneParts       = []int64{8 << 20, 16 << 20, 32 << 20}
	tuneConcurrency = []int{3, 4, 8, 16}
)

// tune measures uploads of unknown size and downloads for each part size
// and concurrency, alternating the settings round by round like the
// contenders.
func (b *bench) tune(size int64, rounds int) error {
	client := b.env.libraryLikeClient(false)
	md5Client := b.env.libraryLikeClient(true)
	key := b.key("S3", "tune", "object.bin")
	label := sizeLabel(size)

	// Each setting is a part size and a concurrency on the library's
	// client; more rows add the checksums of other setups, to tell their
	// cost from that of the settings.
	type setting struct {
		part     int64
		conc     int
		checksum string // "" as *S3 over HTTP, "MD5" as over HTTPS, "CRC32" as the raw SDK
	}
	var names []string
	settings := map[string]setting{}
	for _, p := range tuneParts {
		for _, c := range tuneConcurrency {
			n := fmt.Sprintf("%d MiB × %d", p>>20, c)
			names = append(names, n)
			settings[n] = setting{part: p, conc: c}
		}
	}
	for _, o := range []setting{{8 << 20, 3, "MD5"}, {8 << 20, 3, "CRC32"}, {8 << 20, 5, "CRC32"}} {
		n := fmt.Sprintf("%d MiB × %d, %s", o.part>>20, o.conc, map[string]string{
			"MD5": "Content-MD5 (as over HTTPS)", "CRC32": "CRC32 (the SDK's default)"}[o.checksum])
		names = append(names, n)
		settings[n] = o
	}
	rawClient := b.env.rawClient()
	up := newFigure(label+" upload of unknown size, by part size × concurrency", "tune", "MB/s", false, names)
	up.Ours = "8 MiB × 3" // the library's current default
	up.Note = "Buffers held by one Put: (concurrency + 2) × part size (see the S3 type's documentation). " +
		"The grid is *S3 as it runs here, over plain HTTP, where the signature covers each body's SHA-256; " +
		"the Content-MD5 row adds the MD5 *S3 sends over HTTPS; the CRC32 rows use the raw SDK's client and " +
		"checksum defaults (8 MiB × 5 is the raw SDK's transfer manager as is)."
	err := b.measure(up, rounds, func(n string, r int) (float64, error) {
		o := settings[n]
		c, sums := client, aws.RequestChecksumCalculationWhenRequired
		switch o.checksum {
		case "MD5":
			c = md5Client
		case "CRC32":
			c, sums = rawClient, aws.RequestChecksumCalculationWhenSupported
		}
		tm := transfermanager.New(c, func(opt *transfermanager.Options) {
			opt.PartSizeBytes = o.part
			opt.MultipartUploadThreshold = o.part
			opt.Concurrency = o.conc
			opt.RequestChecksumCalculation = sums
		})
		start := time.Now()
		_, err := tm.UploadObject(b.ctx, &transfermanager.UploadObjectInput{Bucket: &b.env.Bucket, Key: &key, Body: newPRNG(uint64(r), size)})
		return mbps(size, time.Since(start)), err
	})
	if err != nil {
		return err
	}

	// Downloads: *S3's Get is one GetObject stream; the transfer manager
	// can fetch ranges concurrently instead.
	dnames := []string{"one GetObject stream"}
	for _, p := range tuneParts {
		for _, c := range []int{4, 8} {
			dnames = append(dnames, fmt.Sprintf("ranges of %d MiB × %d", p>>20, c))
			settings[dnames[len(dnames)-1]] = setting{part: p, conc: c}
		}
	}
	down := newFigure(label+" download, one stream or concurrent ranges", "tune", "MB/s", false, dnames)
	down.Ours = dnames[0]
	return b.measure(down, rounds, func(n string, _ int) (float64, error) {
		start := time.Now()
		var got int64
		if n == dnames[0] {
			out, err := client.GetObject(b.ctx, &s3.GetObjectInput{Bucket: &b.env.Bucket, Key: &key})
			if err != nil {
				return 0, err
			}
			got, err = drain(out.Body)
			out.Body.Close()
			if err != nil {
				return 0, err
			}
		} else {
			o := settings[n]
			tm := transfermanager.New(client, func(opt *transfermanager.Options) {
				opt.PartSizeBytes = o.part
				opt.Concurrency = o.conc
				opt.GetObjectType = tmtypes.GetObjectRanges
				opt.DisableChecksumValidation = true
			})
			out, err := tm.GetObject(b.ctx, &transfermanager.GetObjectInput{Bucket: &b.env.Bucket, Key: &key})
			if err != nil {
				return 0, err
			}
			if got, err = drain(out.Body); err != nil {
				return 0, err
			}
		}
		if got != size {
			return 0, fmt.Errorf("got %d bytes, want %d", got, size)
		}
		return mbps(size, time.Since(start)), nil
	})
}

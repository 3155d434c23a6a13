package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/hygie-health/hygie/internal/errs"
)

// S3 is a Store in a bucket of an S3-compatible service (MinIO, Ceph RGW,
// AWS S3…), optionally under a key prefix: the object "a/b" is the S3 object
// "<prefix>/a/b". S3 PUTs are atomic, so a failed Put leaves the previous
// object in place.
type S3 struct {
	client *minio.Client
	bucket string
	prefix string // "" or ending in "/"
}

var _ Store = (*S3)(nil)

// unknownSizePartSize is the multipart part size used when Put cannot learn
// the size of its reader: minio-go buffers one part in memory, and its
// default for unknown sizes is over 500 MiB. 16 MiB parts allow objects up to
// 160 GiB (10,000 parts).
const unknownSizePartSize = 16 << 20

// NewS3 opens the store in bucket under prefix ("" for the whole bucket),
// creating the bucket if it does not exist.
func NewS3(ctx context.Context, bucket, prefix string, cfg S3Config) (*S3, error) {
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return nil, errs.Invalidf("s3 bucket %q: %v", bucket, err)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := ValidateKey(prefix); err != nil {
			return nil, errs.Invalidf("s3 key prefix %q: %s", prefix, errs.MessageOf(err))
		}
		prefix += "/"
	}
	endpoint, secure := cfg.Endpoint, cfg.UseSSL
	if rest, ok := strings.CutPrefix(endpoint, "https://"); ok {
		endpoint, secure = rest, true
	} else if rest, ok := strings.CutPrefix(endpoint, "http://"); ok {
		endpoint, secure = rest, false
	}
	endpoint = strings.TrimSuffix(endpoint, "/")
	if endpoint == "" {
		return nil, errs.Invalidf("s3 endpoint: empty; want host:port")
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: secure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "s3 endpoint %q: not host:port", endpoint)
	}
	s := &S3{client: client, bucket: bucket, prefix: prefix}
	exists, err := client.BucketExists(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("s3 bucket %q at %s: %w", bucket, endpoint, err)
	}
	if !exists {
		err := client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: cfg.Region})
		var er minio.ErrorResponse
		if err != nil && !(errors.As(err, &er) && er.Code == minio.BucketAlreadyOwnedByYou) {
			return nil, fmt.Errorf("s3 create bucket %q at %s: %w", bucket, endpoint, err)
		}
	}
	return s, nil
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	size := readerSize(r)
	if size < 0 {
		opts.PartSize = unknownSizePartSize
	}
	up, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, r, size, opts)
	if err != nil {
		return Info{}, fmt.Errorf("blob put %q: %w", key, err)
	}
	mod := up.LastModified
	if mod.IsZero() {
		mod = time.Now() // a PUT response carries no Last-Modified
	}
	return Info{Key: key, Size: up.Size, ModTime: mod}, nil
}

// readerSize returns the number of bytes left in r if it is cheap to know,
// else -1.
func readerSize(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }: // bytes.Reader, strings.Reader, bytes.Buffer
		return int64(v.Len())
	case *os.File:
		fi, err := v.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		off, err := v.Seek(0, io.SeekCurrent)
		if err != nil || off > fi.Size() {
			return -1
		}
		return fi.Size() - off
	}
	return -1
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	// One GET, read as it streams: a concurrent overwrite cannot mix versions
	// or fail the read halfway, as minio.Client.GetObject's lazy re-requests
	// with If-Match could.
	body, _, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.mapErr(key, err)
	}
	return body, nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.mapErr(key, err)
	}
	return Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// mapErr turns S3's "no such key" into errs.NotFound.
func (s *S3) mapErr(key string, err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) && (er.Code == minio.NoSuchKey || er.StatusCode == http.StatusNotFound && er.Code != minio.NoSuchBucket) {
		return notFound(key)
	}
	return fmt.Errorf("blob %q: %w", key, err)
}

// List implements Store. Objects whose key (after the store prefix) is not a
// valid key, such as "directory" markers ending in "/" made by other tools,
// are left out: no method could reach them.
func (s *S3) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	var out []Info
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if oi.Err != nil {
			return nil, fmt.Errorf("blob list %q: %w", prefix, oi.Err)
		}
		key, ok := strings.CutPrefix(oi.Key, s.prefix)
		if !ok || ValidateKey(key) != nil {
			continue
		}
		out = append(out, Info{Key: key, Size: oi.Size, ModTime: oi.LastModified})
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// S3 lists in UTF-8 binary order already; sorting costs little and
	// does not trust every S3-compatible server to do so.
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err != nil && !errs.Is(s.mapErr(key, err), errs.NotFound) {
		return fmt.Errorf("blob delete %q: %w", key, err)
	}
	return nil
}

// Ping implements Store: the service answers and the bucket exists.
func (s *S3) Ping(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3 bucket %q: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("s3 bucket %q does not exist", s.bucket)
	}
	return nil
}

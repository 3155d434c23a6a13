package blob

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/hygie-health/hygie/internal/errs"
)

// The S3 tests run against the MinIO of package blobtest, which main_test.go
// (package blob_test: blobtest imports blob, so these tests cannot import it)
// assigns to these before the tests run.
var (
	S3ForTests     func(testing.TB) S3Config // blobtest.S3
	BucketForTests func(testing.TB) string   // blobtest.Bucket
)

// s3Config returns how to reach the test MinIO, or skips (fails under CI)
// the test if there is none.
func s3Config(t testing.TB) S3Config {
	t.Helper()
	return S3ForTests(t)
}

// newTestS3 opens an S3 store in a new bucket, removed with its objects
// when the test ends.
func newTestS3(t testing.TB, prefix string) *S3 {
	t.Helper()
	cfg := s3Config(t)
	s, err := NewS3(context.Background(), BucketForTests(t), prefix, cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return s
}

func TestS3Prefix(t *testing.T) {
	ctx := t.Context()
	s := newTestS3(t, "/tenant/a/")
	mustPut(t, s, "k", []byte("in"))
	// An object outside the prefix, and a "directory marker" inside it, as
	// other tools write them.
	for _, name := range []string{"tenant/b/k", "outside", "tenant/a/dir/"} {
		if _, err := s.client.PutObject(ctx, s.bucket, name, strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.client.StatObject(ctx, s.bucket, "tenant/a/k", minio.StatObjectOptions{}); err != nil {
		t.Errorf("object not stored under the prefix: %v", err)
	}
	if got := keys(mustList(t, s, "")); !slices.Equal(got, []string{"k"}) {
		t.Errorf("List = %q, want only the store's key", got)
	}
	if _, err := s.Stat(ctx, "../b/k"); !errs.Is(err, errs.Invalid) {
		t.Errorf("Stat outside the prefix: %v, want invalid", err)
	}
}

func TestS3OpenAndPing(t *testing.T) {
	cfg := s3Config(t)
	ctx := t.Context()
	s := newTestS3(t, "") // creates a bucket (and removes it at the end)
	st, err := Open(ctx, "s3://"+s.bucket+"/via/open", cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s2, ok := st.(*S3)
	if !ok || s2.prefix != "via/open/" || s2.bucket != s.bucket {
		t.Fatalf("Open = %#v", st)
	}
	if err := st.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	// Open with an http:// endpoint, as users may write it.
	cfg.Endpoint = "http://" + cfg.Endpoint
	if st, err := Open(ctx, "s3://"+s.bucket, cfg); err != nil {
		t.Errorf("Open with http:// endpoint: %v", err)
	} else if err := st.Ping(ctx); err != nil {
		t.Errorf("Ping with http:// endpoint: %v", err)
	}

	// Ping fails once the bucket is gone.
	gone := newTestS3(t, "")
	if err := gone.client.RemoveBucket(ctx, gone.bucket); err != nil {
		t.Fatal(err)
	}
	if err := gone.Ping(ctx); err == nil {
		t.Error("Ping succeeded without a bucket")
	}
	if err := gone.client.MakeBucket(ctx, gone.bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err) // for the cleanup
	}

	// Wrong credentials fail at NewS3, not later.
	bad := cfg
	bad.SecretKey = "wrong-secret"
	if _, err := NewS3(ctx, s.bucket, "", bad); err == nil {
		t.Error("NewS3 with a wrong secret key succeeded")
	}
	// A canceled context stops NewS3.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := NewS3(cctx, s.bucket, "", cfg); err == nil {
		t.Error("NewS3 with a canceled context succeeded")
	}
}

func TestS3FailedMultipartPutIsAborted(t *testing.T) {
	ctx := t.Context()
	s := newTestS3(t, "")
	if _, err := s.Put(ctx, "big", &failingReader{n: unknownSizePartSize + 1<<20}); err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, "", true) {
		if up.Err != nil {
			t.Fatal(up.Err)
		}
		t.Errorf("multipart upload left behind: %+v", up)
	}
}

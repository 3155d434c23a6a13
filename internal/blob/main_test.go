package blob_test

import (
	"os"
	"testing"

	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/blob/blobtest"
)

// TestMain hands blobtest's MinIO to the S3 tests of package blob, which
// cannot import blobtest themselves (blobtest imports blob), and stops that
// MinIO at the end.
func TestMain(m *testing.M) {
	blob.S3ForTests, blob.BucketForTests = blobtest.S3, blobtest.Bucket
	os.Exit(blobtest.Main(m))
}

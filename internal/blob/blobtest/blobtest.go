// Package blobtest holds test helpers that start a real MinIO, so that tests
// of any package can run against S3. It is for tests only: production code
// must not import it.
//
// S3 returns how to reach the test MinIO: the one HYGIE_TEST_S3_ENDPOINT
// names (with HYGIE_TEST_S3_ACCESS_KEY and HYGIE_TEST_S3_SECRET_KEY, default
// minioadmin), else one this package starts on a free loopback port from a
// minio binary (HYGIE_MINIO_BIN, PATH, $HYGIE_TOOLS, ~/.cache/hygie/bin or
// ~/go/bin), once per test binary. Without either the test is skipped,
// except under CI=true where it fails: CI must exercise S3. A test binary
// using S3 must stop that MinIO when it is done:
//
//	func TestMain(m *testing.M) { os.Exit(blobtest.Main(m)) }
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/hygie-health/hygie/internal/blob"
)

var env struct {
	once    sync.Once
	cfg     blob.S3Config
	missing string // why there is no server, if there is none
	err     error  // the server could not be started

	cmd     *exec.Cmd
	exited  chan error
	dataDir string
}

// procAttr is set per platform (blobtest_linux.go: kill MinIO when the test
// binary dies).
var procAttr *syscall.SysProcAttr

// Main runs the tests and stops a MinIO this package started: use
//
//	func TestMain(m *testing.M) { os.Exit(blobtest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	stop()
	return code
}

// S3 returns how to reach the test MinIO, starting it on first use. It skips
// the test if there is none, or fails it under CI=true.
func S3(t testing.TB) blob.S3Config {
	t.Helper()
	env.once.Do(setup)
	if env.err != nil {
		t.Fatalf("MinIO for the S3 tests: %v", env.err)
	}
	if env.missing != "" {
		msg := "no MinIO for the S3 tests (" + env.missing + "): run scripts/minio.sh and set HYGIE_MINIO_BIN to the path it prints, or set HYGIE_TEST_S3_ENDPOINT"
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return env.cfg
}

// Bucket returns a fresh random bucket name on the test MinIO (see S3; it
// skips the test likewise) and registers cleanup that removes the bucket and
// all its objects when the test ends. The bucket is not created: blob.NewS3
// and blob.Open create it on first use.
func Bucket(t testing.TB) string {
	t.Helper()
	cfg := S3(t)
	bucket := "hygie-test-" + strings.ToLower(rand.Text()[:16])
	t.Cleanup(func() {
		if err := removeBucket(cfg, bucket); err != nil {
			t.Errorf("remove test bucket %s: %v", bucket, err)
		}
	})
	return bucket
}

// removeBucket removes bucket with its objects and unfinished multipart
// uploads; a bucket that does not exist is not an error.
func removeBucket(cfg blob.S3Config, bucket string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	endpoint, secure := cfg.Endpoint, cfg.UseSSL
	if rest, ok := strings.CutPrefix(endpoint, "https://"); ok {
		endpoint, secure = rest, true
	} else if rest, ok := strings.CutPrefix(endpoint, "http://"); ok {
		endpoint, secure = rest, false
	}
	client, err := minio.New(strings.TrimSuffix(endpoint, "/"), &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: secure,
		Region: cfg.Region,
	})
	if err != nil {
		return err
	}
	if ok, err := client.BucketExists(ctx, bucket); err != nil || !ok {
		return err
	}
	for up := range client.ListIncompleteUploads(ctx, bucket, "", true) {
		if up.Err != nil {
			return up.Err
		}
		if err := client.RemoveIncompleteUpload(ctx, bucket, up.Key); err != nil {
			return err
		}
	}
	for oi := range client.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if oi.Err != nil {
			return oi.Err
		}
		if err := client.RemoveObject(ctx, bucket, oi.Key, minio.RemoveObjectOptions{}); err != nil {
			return fmt.Errorf("remove %s: %w", oi.Key, err)
		}
	}
	err = client.RemoveBucket(ctx, bucket)
	var er minio.ErrorResponse
	if errors.As(err, &er) && er.Code == minio.NoSuchBucket {
		return nil
	}
	return err
}

func setup() {
	user := envOr("HYGIE_TEST_S3_ACCESS_KEY", "minioadmin")
	pass := envOr("HYGIE_TEST_S3_SECRET_KEY", "minioadmin")
	if ep := os.Getenv("HYGIE_TEST_S3_ENDPOINT"); ep != "" {
		env.cfg = blob.S3Config{Endpoint: ep, AccessKey: user, SecretKey: pass, Region: "us-east-1"}
		return
	}
	bin := findMinIO()
	if bin == "" {
		env.missing = "HYGIE_TEST_S3_ENDPOINT unset and no minio binary found"
		return
	}
	addr, err := freeAddr()
	if err != nil {
		env.err = err
		return
	}
	dataDir, err := os.MkdirTemp("", "hygie-minio-*")
	if err != nil {
		env.err = err
		return
	}
	env.dataDir = dataDir
	logs := new(lockedBuffer)
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, filepath.Join(dataDir, "data"))
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+user,
		"MINIO_ROOT_PASSWORD="+pass,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = procAttr
	if err := cmd.Start(); err != nil {
		env.err = fmt.Errorf("start %s: %w", bin, err)
		return
	}
	env.cmd = cmd
	env.exited = make(chan error, 1)
	go func() { env.exited <- cmd.Wait() }()

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-env.exited:
			env.exited <- err
			env.err = fmt.Errorf("%s exited before it was ready (%v); its output:\n%s", bin, err, logs)
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			env.err = fmt.Errorf("%s not ready on %s after 60s; its output:\n%s", bin, addr, logs)
			return
		}
	}
	env.cfg = blob.S3Config{Endpoint: addr, AccessKey: user, SecretKey: pass, Region: "us-east-1"}
}

// findMinIO returns the minio binary to run, or "".
func findMinIO() string {
	if bin := os.Getenv("HYGIE_MINIO_BIN"); bin != "" {
		return bin // an explicit choice: fail loudly later if it is wrong
	}
	if bin, err := exec.LookPath("minio"); err == nil {
		return bin
	}
	var candidates []string
	if tools := os.Getenv("HYGIE_TOOLS"); tools != "" {
		candidates = append(candidates, filepath.Join(tools, "minio"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates,
			filepath.Join(home, ".cache", "hygie", "bin", "minio"),
			filepath.Join(home, "go", "bin", "minio"))
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return c
		}
	}
	return ""
}

// stop stops the MinIO setup started, if any, and removes its data.
func stop() {
	if env.cmd != nil {
		env.cmd.Process.Kill()
		select {
		case <-env.exited:
		case <-time.After(10 * time.Second):
		}
	}
	if env.dataDir != "" {
		os.RemoveAll(env.dataDir)
	}
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// lockedBuffer collects a child process's output for error messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil // enough to diagnose
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

package blob

import (
	"bytes"
	"context"
	"crypto/rand"
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
)

// The S3 tests run against a real MinIO: the one HYGIE_TEST_S3_ENDPOINT
// names, else one this package starts from a minio binary (HYGIE_MINIO_BIN,
// PATH, the scripts/minio.sh tools directory or ~/go/bin) on a free loopback
// port, once for the whole package. Without either they are skipped, except
// under CI=true where they fail: CI must exercise S3.

var minioEnv struct {
	once    sync.Once
	cfg     S3Config
	missing string // why there is no server, if there is none
	err     error  // the server could not be started

	cmd     *exec.Cmd
	exited  chan error
	dataDir string
}

// procAttr is set per platform (minio_linux_test.go: kill MinIO when the
// test binary dies).
var procAttr *syscall.SysProcAttr

func TestMain(m *testing.M) {
	code := m.Run()
	stopMinIO()
	os.Exit(code)
}

// s3Config returns how to reach the test MinIO, starting it on first use,
// or skips (fails under CI) the test if there is none.
func s3Config(t testing.TB) S3Config {
	t.Helper()
	minioEnv.once.Do(setupMinIO)
	if minioEnv.err != nil {
		t.Fatalf("MinIO for the S3 tests: %v", minioEnv.err)
	}
	if minioEnv.missing != "" {
		msg := "no MinIO for the S3 tests (" + minioEnv.missing + "): run scripts/minio.sh and set HYGIE_MINIO_BIN to the path it prints, or set HYGIE_TEST_S3_ENDPOINT"
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return minioEnv.cfg
}

// newTestS3 opens an S3 store in a new bucket, removed with its objects
// when the test ends.
func newTestS3(t testing.TB, prefix string) *S3 {
	t.Helper()
	cfg := s3Config(t)
	ctx := context.Background()
	bucket := "hygie-test-" + strings.ToLower(rand.Text()[:16])
	s, err := NewS3(ctx, bucket, prefix, cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	t.Cleanup(func() {
		for oi := range s.client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			if oi.Err == nil {
				s.client.RemoveObject(ctx, bucket, oi.Key, minio.RemoveObjectOptions{})
			}
		}
		if err := s.client.RemoveBucket(ctx, bucket); err != nil {
			t.Errorf("remove test bucket %s: %v", bucket, err)
		}
	})
	return s
}

func setupMinIO() {
	user := envOr("HYGIE_TEST_S3_ACCESS_KEY", "minioadmin")
	pass := envOr("HYGIE_TEST_S3_SECRET_KEY", "minioadmin")
	if ep := os.Getenv("HYGIE_TEST_S3_ENDPOINT"); ep != "" {
		minioEnv.cfg = S3Config{Endpoint: ep, AccessKey: user, SecretKey: pass, Region: "us-east-1"}
		return
	}
	bin := findMinIO()
	if bin == "" {
		minioEnv.missing = "HYGIE_TEST_S3_ENDPOINT unset and no minio binary found"
		return
	}
	addr, err := freeAddr()
	if err != nil {
		minioEnv.err = err
		return
	}
	dataDir, err := os.MkdirTemp("", "hygie-minio-*")
	if err != nil {
		minioEnv.err = err
		return
	}
	minioEnv.dataDir = dataDir
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
		minioEnv.err = fmt.Errorf("start %s: %w", bin, err)
		return
	}
	minioEnv.cmd = cmd
	minioEnv.exited = make(chan error, 1)
	go func() { minioEnv.exited <- cmd.Wait() }()

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
		case err := <-minioEnv.exited:
			minioEnv.exited <- err
			minioEnv.err = fmt.Errorf("%s exited before it was ready (%v); its output:\n%s", bin, err, logs)
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			minioEnv.err = fmt.Errorf("%s not ready on %s after 60s; its output:\n%s", bin, addr, logs)
			return
		}
	}
	minioEnv.cfg = S3Config{Endpoint: addr, AccessKey: user, SecretKey: pass, Region: "us-east-1"}
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

func stopMinIO() {
	if minioEnv.cmd != nil {
		minioEnv.cmd.Process.Kill()
		select {
		case <-minioEnv.exited:
		case <-time.After(10 * time.Second):
		}
	}
	if minioEnv.dataDir != "" {
		os.RemoveAll(minioEnv.dataDir)
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

// Package resilience runs hygie as a separate process — built once with
// go build, started, killed with SIGKILL and started again on the same data
// — for the crash and restart tests of this directory and the API load test
// (bench/api). Its tests check what the issue "Resilience" asks: after a
// kill -9 nothing acknowledged is lost and nothing half-written is visible;
// a PostgreSQL restart makes hygie not-ready, then ready again by itself.
package resilience

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles hygie (./cmd/hygie of this module) into dir and returns
// the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	if root == "." || root == "" {
		return "", errors.New("not inside the hygie module")
	}
	bin := filepath.Join(dir, "hygie")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/hygie")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/hygie: %w\n%s", err, out)
	}
	return bin, nil
}

// FreeAddr returns a loopback address with a port free at the time of the
// call.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Server is a hygie process: hygie server, or any command that serves
// (hygie demo --serve), on a fixed loopback address so that it can be
// killed and started again where clients expect it.
type Server struct {
	Bin  string
	Addr string
	// Env is the process's configuration (HYGIE_DATA, HYGIE_DATABASE…);
	// HYGIE_* variables of the caller's environment are not passed on,
	// but for HYGIE_TEST_* and HYGIE_MINIO_BIN.
	Env []string
	// Args is the command; default: server.
	Args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	log    syncBuffer // the server's standard error, all runs
	stdout syncBuffer // its standard output, all runs
}

// NewServer returns a server of bin on a free loopback port.
func NewServer(bin string, env ...string) (*Server, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	return &Server{Bin: bin, Addr: addr, Env: env}, nil
}

// URL is the server's base URL.
func (s *Server) URL() string { return "http://" + s.Addr }

// environ is the environment of the server process.
func (s *Server) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HYGIE_") && !strings.HasPrefix(kv, "HYGIE_TEST_") && !strings.HasPrefix(kv, "HYGIE_MINIO_BIN=") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "HYGIE_ADDR="+s.Addr, "HYGIE_LOG_LEVEL=warn"), s.Env...)
}

// Start starts the process and waits until /readyz answers 200 (at most
// timeout).
func (s *Server) Start(ctx context.Context, timeout time.Duration) error {
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return errors.New("server already started")
	}
	args := s.Args
	if len(args) == 0 {
		args = []string{"server"}
	}
	cmd := exec.Command(s.Bin, args...)
	cmd.Env = s.environ()
	cmd.Stderr, cmd.Stdout = &s.log, &s.stdout
	// Kill the server with the test binary, never leave it behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return err
	}
	s.cmd, s.done = cmd, make(chan struct{})
	done := s.done
	s.mu.Unlock()
	go func() {
		cmd.Wait()
		close(done)
	}()
	return s.WaitReady(ctx, timeout)
}

// Stdout returns what the process wrote on its standard output, all runs
// (such as the JSON result of hygie demo --output json).
func (s *Server) Stdout() string { return s.stdout.String() }

// WaitReady waits until /readyz answers 200.
func (s *Server) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	for {
		if code, _ := Probe(ctx, s.URL()+"/readyz"); code == http.StatusOK {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("hygie exited before it was ready:\n%s", s.Log())
		case <-ctx.Done():
			return fmt.Errorf("hygie not ready after %s:\n%s", timeout, s.Log())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Probe GETs url and returns the status code (0 when it does not answer).
func Probe(ctx context.Context, url string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Kill sends SIGKILL (kill -9) and waits for the process to be gone.
func (s *Server) Kill() error { return s.signal(syscall.SIGKILL) }

// Stop sends SIGTERM (a graceful stop) and waits for the process to end.
func (s *Server) Stop() error { return s.signal(syscall.SIGTERM) }

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("hygie did not stop within 30s of %s", sig)
	}
}

// Exited reports whether the process started last has ended by itself
// (true too when none was started).
func (s *Server) Exited() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		return true
	}
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Log returns what the server wrote on its standard error, all runs.
func (s *Server) Log() string { return s.log.String() }

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Client calls hygie's HTTP API with a bearer token.
type Client struct {
	Base  string
	Token string
	HTTP  *http.Client
}

// StatusError is an answer other than 2xx.
type StatusError struct {
	Method, Path string
	Code         int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Code, strings.TrimSpace(e.Body))
}

// Do sends body (JSON-encoded unless an io.Reader) and decodes a 2xx JSON
// answer into out (unless nil). An answer other than 2xx is a *StatusError.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case io.Reader:
		r, ctype = b, "application/octet-stream"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, r)
	if err != nil {
		return err
	}
	if r != nil {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Method: method, Path: path, Code: resp.StatusCode, Body: string(data)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// CreateExperiment creates the MLflow experiment PROJECT/NAME and returns
// its id.
func (c *Client) CreateExperiment(ctx context.Context, name string) (string, error) {
	var exp struct {
		ID string `json:"experiment_id"`
	}
	err := c.Do(ctx, "POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": name}, &exp)
	return exp.ID, err
}

// CreateRun creates an MLflow run in an experiment and returns its id.
func (c *Client) CreateRun(ctx context.Context, experimentID, name string) (string, error) {
	var run struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	err := c.Do(ctx, "POST", "/api/2.0/mlflow/runs/create", map[string]any{"experiment_id": experimentID, "run_name": name}, &run)
	return run.Run.Info.RunID, err
}

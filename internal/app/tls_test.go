package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/config"
	"github.com/hygie-health/hygie/internal/httpapi"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 with the
// given serial number and its key, and returns the certificate.
func writeSelfSigned(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "hygie test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTLSListener(t *testing.T) {
	old := certReloadInterval
	certReloadInterval = 200 * time.Millisecond
	t.Cleanup(func() { certReloadInterval = old })

	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeSelfSigned(t, certFile, keyFile, 1)

	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Addr = "127.0.0.1:0"
	cfg.TLSCert, cfg.TLSKey = certFile, keyFile
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Open(ctx, cfg, Options{Migrate: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	l, err := a.Listen()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, l) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	addr := l.Addr().String()

	// dial connects with one TLS version, trusting only trusted, and
	// returns the serial number of the certificate the server presented.
	dial := func(version uint16, trusted *x509.Certificate) (*big.Int, error) {
		pool := x509.NewCertPool()
		pool.AddCert(trusted)
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: version, MaxVersion: version})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
	}

	t.Run("TLS 1.1 refused", func(t *testing.T) {
		if _, err := dial(tls.VersionTLS11, first); err == nil {
			t.Fatal("a TLS 1.1 handshake succeeded")
		}
	})
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v)+" accepted", func(t *testing.T) {
			if serial, err := dial(v, first); err != nil || serial.Int64() != 1 {
				t.Fatalf("serial %v, err %v", serial, err)
			}
		})
	}

	t.Run("HSTS and secure cookies", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AddCert(first)
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := client.Get("https://" + addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz: %s", resp.Status)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Fatalf("Strict-Transport-Security = %q", got)
		}
		// A stale session cookie is forgotten with a Secure, HttpOnly cookie.
		req, _ := http.NewRequest("GET", "https://"+addr+"/login", nil)
		req.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: "stale"})
		resp, err = client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cookies := resp.Cookies()
		if len(cookies) != 1 || !cookies[0].Secure || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
			t.Fatalf("cookies %+v: want one Secure, HttpOnly, SameSite=Strict cookie", cookies)
		}
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Fatal("plain HTTP was served on the TLS listener")
			}
		}
	})

	t.Run("renewed certificate picked up", func(t *testing.T) {
		second := writeSelfSigned(t, certFile, keyFile, 2)
		// Make sure the modification times change even on coarse clocks.
		later := time.Now().Add(time.Minute)
		for _, f := range []string{certFile, keyFile} {
			if err := os.Chtimes(f, later, later); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			serial, err := dial(tls.VersionTLS12, second)
			if err == nil && serial.Int64() == 2 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server still presents the old certificate: serial %v, err %v", serial, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("broken renewal keeps the current certificate", func(t *testing.T) {
		if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * certReloadInterval)
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("handshake after a broken renewal: %v", err)
		}
		defer c.Close()
		if s := c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); s != 2 {
			t.Fatalf("serial %d, want the last good certificate (2)", s)
		}
	})
}

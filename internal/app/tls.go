package app

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

// certReloadInterval is how often, at most, the certificate files are
// checked for renewal.
var certReloadInterval = 5 * time.Second

// certReloader serves a certificate from PEM files and reloads it when the
// files' modification times change (a renewal by certbot, an ACME client or
// an operator), checking at most every interval, so renewed certificates are
// picked up without a restart. A renewal that does not load (a key that does
// not match yet, a half-written file) keeps the previous certificate in use
// and is retried at the next check.
type certReloader struct {
	certFile, keyFile string
	interval          time.Duration
	now               func() time.Time
	onError           func(error)

	mu      sync.Mutex
	cert    *tls.Certificate
	certMod time.Time
	keyMod  time.Time
	checked time.Time
}

func newCertReloader(certFile, keyFile string, interval time.Duration) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, interval: interval, now: time.Now, onError: func(error) {}}
	cm, km, err := r.modTimes()
	if err != nil {
		return nil, err
	}
	if err := r.load(cm, km); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) modTimes() (cert, key time.Time, err error) {
	cs, err := os.Stat(r.certFile)
	if err != nil {
		return cert, key, fmt.Errorf("setting tls_cert (HYGIE_TLS_CERT): %w", err)
	}
	ks, err := os.Stat(r.keyFile)
	if err != nil {
		return cert, key, fmt.Errorf("setting tls_key (HYGIE_TLS_KEY): %w", err)
	}
	return cs.ModTime(), ks.ModTime(), nil
}

// load reads the key pair; the caller holds mu or owns r.
func (r *certReloader) load(certMod, keyMod time.Time) error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("settings tls_cert and tls_key: %w", err)
	}
	r.cert, r.certMod, r.keyMod, r.checked = &c, certMod, keyMod, r.now()
	return nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= r.interval {
		r.checked = now
		cm, km, err := r.modTimes()
		if err != nil {
			r.onError(err)
		} else if !cm.Equal(r.certMod) || !km.Equal(r.keyMod) {
			if err := r.load(cm, km); err != nil {
				r.onError(err)
			}
		}
	}
	return r.cert, nil
}

// tlsConfig returns the server TLS configuration: TLS 1.2 at least, the
// certificate from the configured files, reloaded on renewal.
func (a *App) tlsConfig() (*tls.Config, error) {
	r, err := newCertReloader(a.Config.TLSCert, a.Config.TLSKey, certReloadInterval)
	if err != nil {
		return nil, err
	}
	r.onError = func(err error) {
		a.Log.Error("TLS certificate reload failed; keeping the previous certificate", "err", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}, nil
}

// hsts tells browsers to reach this server over HTTPS only, for a year.
func hsts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		next.ServeHTTP(w, r)
	})
}

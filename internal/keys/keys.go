// Package keys holds the master key and the envelope encryption built on it:
// small secrets (per-project pseudonym keys, per-version data keys) are
// wrapped with AES-256-GCM under the master key before they touch the
// database, so a copy of the database alone reveals none of them.
package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Size is the length in bytes of every key.
const Size = 32

// Keyring holds the master key.
type Keyring struct {
	aead cipher.AEAD
}

// New returns a keyring over a 32-byte master key.
func New(master []byte) (*Keyring, error) {
	if len(master) != Size {
		return nil, fmt.Errorf("master key must be %d bytes, got %d", Size, len(master))
	}
	block, err := aes.NewCipher(master)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keyring{aead: aead}, nil
}

// Load reads the master key from path (64 hex characters). When the file does
// not exist and create is true, a new random key is written with mode 0600.
func Load(path string, create bool) (kr *Keyring, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		key := Random()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, fmt.Errorf("master key directory: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("create master key %s: %w", path, err)
		}
		_, werr := f.WriteString(hex.EncodeToString(key) + "\n")
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return nil, false, fmt.Errorf("write master key %s: %w", path, err)
		}
		kr, err := New(key)
		return kr, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("master key file: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != Size {
		return nil, false, fmt.Errorf("master key file %s: want %d hex characters", path, 2*Size)
	}
	kr, err = New(key)
	return kr, false, err
}

// Random returns a new random key.
func Random() []byte {
	b := make([]byte, Size)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b
}

// Wrap encrypts plaintext under the master key; aad binds the ciphertext to
// its purpose (for example "project:7:pseudonym-key"), so it cannot be moved.
func (k *Keyring) Wrap(plaintext, aad []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return k.aead.Seal(nonce, nonce, plaintext, aad)
}

// Unwrap reverses Wrap; it fails if the ciphertext or aad was changed.
func (k *Keyring) Unwrap(ciphertext, aad []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(ciphertext) < n+k.aead.Overhead() {
		return nil, errors.New("wrapped key too short")
	}
	pt, err := k.aead.Open(nil, ciphertext[:n], ciphertext[n:], aad)
	if err != nil {
		return nil, errors.New("wrapped key does not open under this master key")
	}
	return pt, nil
}

package dataset

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Streaming encryption of version content (and of temporary spools).
//
// The content is cut into chunks of sealChunk bytes, each sealed with
// AES-256-GCM under the version's data key. The nonce of chunk i is a random
// 7-byte prefix (per stream), i as a 4-byte big-endian counter, then one
// byte set to 1 for the last chunk only (the STREAM construction of
// Hoang, Reyhanitabar, Rogaway and Vizár). Every chunk authenticates the
// stream header as additional data, plus a label naming what the stream is.
// So a reordered or dropped chunk fails (wrong counter), a stream cut at a
// chunk boundary fails (its new last chunk was not sealed as last), and
// chunks cannot move between streams (another prefix or key).
//
// Layout: header (16 bytes: "hyg", format 1, chunk size as uint32, the
// nonce prefix, one reserved zero byte), then the sealed chunks: every
// chunk but the last holds exactly sealChunk bytes; the last holds 1 to
// sealChunk bytes, or 0 when the whole stream is empty.
//
// Fixed-size chunks also allow random access (sealedReaderAt), which the
// Parquet reader needs: it reads the footer first.
const (
	sealChunk     = 64 << 10
	sealHeaderLen = 16
	sealPrefixLen = 7
	sealTagLen    = 16
)

var sealMagic = [4]byte{'h', 'y', 'g', 1}

// errSealed is the error for content that fails to decrypt: a wrong key,
// tampering or truncation, which cannot be told apart (on purpose).
var errSealed = errors.New("content does not decrypt: wrong key, altered or truncated")

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealNonce fills nonce for chunk i.
func sealNonce(nonce *[12]byte, prefix []byte, i uint32, last bool) {
	copy(nonce[:sealPrefixLen], prefix)
	binary.BigEndian.PutUint32(nonce[sealPrefixLen:], i)
	nonce[11] = 0
	if last {
		nonce[11] = 1
	}
}

// sealWriter encrypts what is written to it onto w. Close seals the last
// chunk; without it the stream is unreadable (truncated).
type sealWriter struct {
	w      io.Writer
	aead   cipher.AEAD
	aad    []byte // header + label
	prefix []byte
	buf    []byte // plaintext of the current chunk, then its ciphertext
	n      int    // plaintext bytes in buf
	i      uint32
	err    error
	closed bool
}

// newSealWriter writes the header and returns the writer. label binds the
// stream to its use ("dataset content", "spool").
func newSealWriter(w io.Writer, key []byte, label string) (*sealWriter, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, sealHeaderLen)
	copy(hdr, sealMagic[:])
	binary.BigEndian.PutUint32(hdr[4:], sealChunk)
	if _, err := rand.Read(hdr[8 : 8+sealPrefixLen]); err != nil {
		return nil, err
	}
	if _, err := w.Write(hdr); err != nil {
		return nil, err
	}
	return &sealWriter{w: w, aead: aead, aad: append(hdr, label...), prefix: hdr[8 : 8+sealPrefixLen],
		buf: make([]byte, sealChunk, sealChunk+sealTagLen)}, nil
}

func (s *sealWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.closed {
		return 0, errors.New("write to a closed stream")
	}
	written := 0
	for len(p) > 0 {
		if s.n == sealChunk {
			// More data follows: this full chunk is not the last one.
			if err := s.flush(false); err != nil {
				return written, err
			}
		}
		k := copy(s.buf[s.n:sealChunk], p)
		s.n += k
		p = p[k:]
		written += k
	}
	return written, nil
}

func (s *sealWriter) flush(last bool) error {
	if s.i == ^uint32(0) {
		s.err = errors.New("stream too long")
		return s.err
	}
	var nonce [12]byte
	sealNonce(&nonce, s.prefix, s.i, last)
	ct := s.aead.Seal(s.buf[:0], nonce[:], s.buf[:s.n], s.aad)
	if _, err := s.w.Write(ct); err != nil {
		s.err = err
		return err
	}
	s.i++
	s.n = 0
	s.buf = s.buf[:sealChunk]
	return nil
}

// Close seals the last chunk. It does not close the underlying writer.
func (s *sealWriter) Close() error {
	if s.err != nil || s.closed {
		return s.err
	}
	s.closed = true
	return s.flush(true)
}

// sealReader decrypts a stream written by sealWriter. Any failure, including
// a missing last chunk, is errSealed.
type sealReader struct {
	r      *bufio.Reader
	aead   cipher.AEAD
	aad    []byte
	prefix []byte
	buf    []byte
	plain  []byte // decrypted, not yet read
	i      uint32
	done   bool
	err    error
}

func newSealReader(r io.Reader, key []byte, label string) (*sealReader, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(r, sealChunk+sealTagLen+1)
	hdr := make([]byte, sealHeaderLen)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, errSealed
	}
	if err := checkSealHeader(hdr); err != nil {
		return nil, err
	}
	return &sealReader{r: br, aead: aead, aad: append(hdr, label...), prefix: hdr[8 : 8+sealPrefixLen],
		buf: make([]byte, sealChunk+sealTagLen)}, nil
}

func checkSealHeader(hdr []byte) error {
	if [4]byte(hdr[:4]) != sealMagic || binary.BigEndian.Uint32(hdr[4:]) != sealChunk || hdr[15] != 0 {
		return errSealed
	}
	return nil
}

func (s *sealReader) Read(p []byte) (int, error) {
	for len(s.plain) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		if s.done {
			return 0, io.EOF
		}
		s.next()
	}
	n := copy(p, s.plain)
	s.plain = s.plain[n:]
	return n, nil
}

func (s *sealReader) next() {
	n, err := io.ReadFull(s.r, s.buf)
	last := false
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		last = true
	case err != nil:
		s.err = err
		return
	default:
		if _, perr := s.r.Peek(1); perr == io.EOF {
			last = true
		} else if perr != nil {
			s.err = perr
			return
		}
	}
	if n < sealTagLen || s.i == ^uint32(0) {
		s.err = errSealed
		return
	}
	var nonce [12]byte
	sealNonce(&nonce, s.prefix, s.i, last)
	pt, oerr := s.aead.Open(s.buf[:0], nonce[:], s.buf[:n], s.aad)
	if oerr != nil || (last && len(pt) == 0 && s.i > 0) {
		s.err = errSealed
		return
	}
	s.i++
	s.plain = pt
	s.done = last
}

// sealedReaderAt gives random access to the plaintext of a sealed stream of
// known size. It is safe for concurrent use.
type sealedReaderAt struct {
	r      io.ReaderAt
	aead   cipher.AEAD
	aad    []byte
	prefix []byte
	chunks int64 // number of chunks
	size   int64 // plaintext size

	mu     sync.Mutex
	cached int64 // index of the chunk in plain, or -1
	plain  []byte
	buf    []byte
}

// newSealedReaderAt opens the sealed stream r of ciphertext size n.
func newSealedReaderAt(r io.ReaderAt, n int64, key []byte, label string) (*sealedReaderAt, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if n < sealHeaderLen+sealTagLen {
		return nil, errSealed
	}
	hdr := make([]byte, sealHeaderLen)
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return nil, errSealed
	}
	if err := checkSealHeader(hdr); err != nil {
		return nil, err
	}
	const full = sealChunk + sealTagLen
	body := n - sealHeaderLen
	chunks := (body + full - 1) / full
	lastLen := body - (chunks-1)*full - sealTagLen
	if lastLen < 0 || (lastLen == 0 && chunks > 1) || chunks > int64(^uint32(0)) {
		return nil, errSealed
	}
	s := &sealedReaderAt{r: r, aead: aead, aad: append(hdr, label...), prefix: hdr[8 : 8+sealPrefixLen],
		chunks: chunks, size: (chunks-1)*sealChunk + lastLen, cached: -1, buf: make([]byte, full)}
	// Check the last chunk now: a truncated or altered end fails at open.
	s.mu.Lock()
	_, err = s.chunk(chunks - 1)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Size returns the plaintext size.
func (s *sealedReaderAt) Size() int64 { return s.size }

// chunk returns the plaintext of chunk i; s.mu is held.
func (s *sealedReaderAt) chunk(i int64) ([]byte, error) {
	if i == s.cached {
		return s.plain, nil
	}
	const full = sealChunk + sealTagLen
	last := i == s.chunks-1
	ctLen := int64(full)
	if last {
		ctLen = s.size - i*sealChunk + sealTagLen
	}
	ct := s.buf[:ctLen]
	if _, err := s.r.ReadAt(ct, sealHeaderLen+i*full); err != nil && !(err == io.EOF && last) {
		return nil, fmt.Errorf("read sealed content: %w", err)
	}
	var nonce [12]byte
	sealNonce(&nonce, s.prefix, uint32(i), last)
	pt, err := s.aead.Open(ct[:0], nonce[:], ct, s.aad)
	if err != nil {
		s.cached = -1
		return nil, errSealed
	}
	s.cached, s.plain = i, pt
	return pt, nil
}

// ReadAt implements io.ReaderAt.
func (s *sealedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for len(p) > 0 {
		if off >= s.size {
			return n, io.EOF
		}
		i := off / sealChunk
		pt, err := s.chunk(i)
		if err != nil {
			return n, err
		}
		k := copy(p, pt[off-i*sealChunk:])
		n += k
		p = p[k:]
		off += int64(k)
	}
	return n, nil
}

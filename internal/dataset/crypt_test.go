package dataset

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
)

func sealBytes(t *testing.T, key, plain []byte, label string) []byte {
	t.Helper()
	var buf bytes.Buffer
	sw, err := newSealWriter(&buf, key, label)
	if err != nil {
		t.Fatal(err)
	}
	// Odd write sizes, so chunk boundaries fall inside writes.
	for p := plain; len(p) > 0; {
		n := min(len(p), 1000+len(p)%7777)
		if _, err := sw.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openSealed(ct, key []byte, label string) ([]byte, error) {
	sr, err := newSealReader(bytes.NewReader(ct), key, label)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(sr)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestSealRoundTrip(t *testing.T) {
	key := randomBytes(32)
	for _, n := range []int{0, 1, 100, sealChunk - 1, sealChunk, sealChunk + 1, 3 * sealChunk, 3*sealChunk + 12345} {
		plain := randomBytes(n)
		ct := sealBytes(t, key, plain, "test")
		chunks := max(1, (n+sealChunk-1)/sealChunk)
		if want := sealHeaderLen + n + chunks*sealTagLen; len(ct) != want {
			t.Errorf("%d bytes: sealed to %d bytes, want %d", n, len(ct), want)
		}
		got, err := openSealed(ct, key, "test")
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: stream round trip: %d bytes, %v", n, len(got), err)
		}
		ra, err := newSealedReaderAt(bytes.NewReader(ct), int64(len(ct)), key, "test")
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if ra.Size() != int64(n) {
			t.Fatalf("%d bytes: ReaderAt size %d", n, ra.Size())
		}
		// Reads at random places, across chunk boundaries.
		for _, off := range []int{0, 1, sealChunk - 3, sealChunk, n / 2, n - 5} {
			if off < 0 || off >= n {
				continue
			}
			p := make([]byte, min(sealChunk+10, n-off))
			k, err := ra.ReadAt(p, int64(off))
			if k != len(p) || (err != nil && err != io.EOF) || !bytes.Equal(p, plain[off:off+len(p)]) {
				t.Errorf("%d bytes: ReadAt(%d) = %d, %v", n, off, k, err)
			}
		}
		if k, err := ra.ReadAt(make([]byte, 10), int64(n)); k != 0 || err != io.EOF {
			t.Errorf("%d bytes: ReadAt past the end = %d, %v", n, k, err)
		}
	}
}

func TestSealDetectsTampering(t *testing.T) {
	key := randomBytes(32)
	plain := randomBytes(3*sealChunk + 100)
	ct := sealBytes(t, key, plain, "test")
	full := sealChunk + sealTagLen
	chunk := func(i int) []byte { return ct[sealHeaderLen+i*full : min(len(ct), sealHeaderLen+(i+1)*full)] }
	swapped := bytes.Clone(ct[:sealHeaderLen])
	swapped = append(swapped, chunk(1)...)
	swapped = append(swapped, chunk(0)...)
	swapped = append(swapped, chunk(2)...)
	swapped = append(swapped, chunk(3)...)
	other := sealBytes(t, key, plain, "test") // another nonce prefix
	spliced := append(bytes.Clone(ct[:sealHeaderLen+full]), other[sealHeaderLen+full:]...)
	flip := func(i int) []byte { c := bytes.Clone(ct); c[i] ^= 0x20; return c }
	tests := []struct {
		name  string
		ct    []byte
		key   []byte
		label string
	}{
		{"wrong key", ct, randomBytes(32), "test"},
		{"wrong label", ct, key, "other use"},
		{"bit flipped in the header", flip(10), key, "test"},
		{"bit flipped in the first chunk", flip(sealHeaderLen + 5), key, "test"},
		{"bit flipped in a tag", flip(sealHeaderLen + full - 1), key, "test"},
		{"bit flipped in the last chunk", flip(len(ct) - 20), key, "test"},
		{"truncated at a chunk boundary", ct[:sealHeaderLen+3*full], key, "test"},
		{"truncated to one chunk", ct[:sealHeaderLen+full], key, "test"},
		{"truncated inside a chunk", ct[:sealHeaderLen+full+100], key, "test"},
		{"truncated inside the last tag", ct[:len(ct)-3], key, "test"},
		{"header only", ct[:sealHeaderLen], key, "test"},
		{"empty", nil, key, "test"},
		{"chunks reordered", swapped, key, "test"},
		{"chunks from another stream", spliced, key, "test"},
		{"extra chunk appended", append(bytes.Clone(ct), chunk(1)...), key, "test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := openSealed(tt.ct, tt.key, tt.label); err == nil {
				t.Errorf("stream read %d bytes without error", len(got))
			} else if !errors.Is(err, errSealed) {
				t.Errorf("stream error = %v, want errSealed", err)
			}
			ra, err := newSealedReaderAt(bytes.NewReader(tt.ct), int64(len(tt.ct)), tt.key, tt.label)
			if err != nil {
				return // refused at open: fine
			}
			if _, err := io.ReadAll(io.NewSectionReader(ra, 0, ra.Size())); err == nil {
				t.Error("ReaderAt read everything without error")
			}
		})
	}
}

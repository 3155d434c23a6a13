package deid

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"unicode/utf8"
)

// DefaultMaxBytes is the default size limit of one document's text.
const DefaultMaxBytes = 1 << 20

// BatchOptions configure Process.
type BatchOptions struct {
	Mode       Mode
	MaxBytes   int         // largest text accepted, in bytes (default DefaultMaxBytes)
	Workers    int         // parallel documents (default GOMAXPROCS)
	Surrogates *Surrogates // for Mode Surrogate (default: a random key)
	// Progress, if set, is called from one goroutine with the number of
	// input bytes consumed so far.
	Progress func(bytesRead int64)
}

// LineError reports a rejected input line. It never holds text content:
// only the line number, the document id when it could be read, and a
// reason.
type LineError struct {
	Line   int    `json:"line"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

func (e LineError) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("line %d (id %s): %s", e.Line, e.ID, e.Reason)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// BatchStats summarise a run.
type BatchStats struct {
	Documents int            `json:"documents"`
	Rejected  int            `json:"rejected"`
	Bytes     int64          `json:"bytes"`
	Entities  map[string]int `json:"entities"`
}

// IOError is an I/O failure of the input or the output (not a bad line).
type IOError struct{ Err error }

func (e IOError) Error() string { return "deid: " + e.Err.Error() }
func (e IOError) Unwrap() error { return e.Err }

// Input is one JSONL input record.
type Input struct {
	ID   json.RawMessage
	Text string
}

// ParseLine decodes one JSONL line {"id": "...", "text": "..."} strictly:
// one JSON object, a string or number id, a string text, valid UTF-8 (no
// replacement characters introduced by decoding). Other fields are ignored
// (so a gold file can be de-identified directly). Errors never quote the
// content.
func ParseLine(line []byte, maxBytes int) (Input, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if !utf8.Valid(line) {
		return Input{}, errors.New("invalid UTF-8")
	}
	var raw struct {
		ID   json.RawMessage `json:"id"`
		Text *string         `json:"text"`
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&raw); err != nil {
		return Input{}, errors.New("malformed JSON (want an object with id and text)")
	}
	if dec.More() {
		return Input{}, errors.New("malformed JSON: data after the object")
	}
	if rest := bytes.TrimSpace(line[dec.InputOffset():]); len(rest) > 0 {
		return Input{}, errors.New("malformed JSON: data after the object")
	}
	id := bytes.TrimSpace(raw.ID)
	if len(id) == 0 || !(id[0] == '"' || id[0] == '-' || (id[0] >= '0' && id[0] <= '9')) {
		return Input{}, errors.New("missing or invalid id (want a string or a number)")
	}
	if raw.Text == nil {
		return Input{}, errors.New("missing text (want a string)")
	}
	if len(*raw.Text) > maxBytes {
		return Input{ID: id}, fmt.Errorf("text of %d bytes is over the limit of %d", len(*raw.Text), maxBytes)
	}
	// encoding/json turns invalid escapes (lone surrogates) into U+FFFD:
	// refuse the line rather than process altered text.
	if n := bytes.Count([]byte(*raw.Text), []byte("\uFFFD")); n > 0 {
		lit := bytes.Count(line, []byte("\uFFFD")) + bytes.Count(bytes.ToLower(line), []byte(`\ufffd`))
		if n > lit {
			return Input{ID: id}, errors.New("invalid UTF-16 escape in text")
		}
	}
	return Input{ID: id, Text: *raw.Text}, nil
}

// idString renders a raw JSON id for messages.
func idString(id json.RawMessage) string {
	var s string
	if json.Unmarshal(id, &s) == nil {
		if len(s) > 80 {
			s = s[:80] + "…"
		}
		return s
	}
	if len(id) > 80 {
		return string(id[:80])
	}
	return string(id)
}

type outLine struct {
	ID       json.RawMessage `json:"id"`
	Text     string          `json:"text"`
	Entities []Entity        `json:"entities"`
}

type job struct {
	seq  int
	line []byte
	err  error // a read-level error (line too long)
}

type result struct {
	seq   int
	out   []byte
	lerr  *LineError
	ents  []Entity
	bytes int
}

// Process de-identifies a JSONL stream: each input line {"id", "text"}
// gives one output line {"id", "text", "entities"}, in input order, using
// every core. Memory stays bounded whatever the input size. A bad line
// (malformed JSON, invalid UTF-8, text over the limit) produces no output
// at all and is passed to onError (line number and id only); processing
// goes on with the next line. Blank lines are skipped.
func (d *Deidentifier) Process(ctx context.Context, r io.Reader, w io.Writer, opt BatchOptions, onError func(LineError)) (BatchStats, error) {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.Mode == Surrogate && opt.Surrogates == nil {
		opt.Surrogates = NewSurrogates(nil)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job, opt.Workers)
	results := make(chan result, opt.Workers)
	slots := make(chan struct{}, opt.Workers*4) // lines read but not yet written
	var readErr error

	// Reader.
	go func() {
		defer close(jobs)
		br := bufio.NewReaderSize(r, 256<<10)
		maxLine := 6*opt.MaxBytes + 64<<10 // room for JSON escapes
		var read int64
		for seq := 1; ; seq++ {
			line, tooLong, err := readLine(br, maxLine)
			read += int64(len(line))
			if opt.Progress != nil {
				opt.Progress(read)
			}
			if len(line) == 0 && err != nil {
				if err != io.EOF {
					readErr = err
				}
				return
			}
			j := job{seq: seq, line: line}
			if tooLong {
				j.line = nil
				j.err = fmt.Errorf("line over the size limit of %d bytes", maxLine)
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
			if err != nil {
				if err != io.EOF {
					readErr = err
				}
				return
			}
		}
	}()

	// Workers.
	var wg sync.WaitGroup
	for i := 0; i < opt.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for j := range jobs {
				res := d.processLine(j, opt, &buf)
				select {
				case results <- res:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	// Writer, in input order.
	stats := BatchStats{Entities: map[string]int{}}
	pending := map[int]result{}
	next := 1
	bw := bufio.NewWriterSize(w, 256<<10)
	var writeErr error
	for res := range results {
		pending[res.seq] = res
		for {
			p, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			<-slots
			switch {
			case p.lerr != nil:
				stats.Rejected++
				if onError != nil {
					onError(*p.lerr)
				}
			case p.out != nil:
				stats.Documents++
				stats.Bytes += int64(p.bytes)
				for _, e := range p.ents {
					stats.Entities[e.Label.String()]++
				}
				if writeErr == nil {
					if _, err := bw.Write(p.out); err != nil {
						writeErr = err
						cancel()
					}
				}
			}
		}
	}
	if err := bw.Flush(); err != nil && writeErr == nil {
		writeErr = err
	}
	if writeErr != nil {
		return stats, IOError{writeErr}
	}
	if readErr != nil {
		return stats, IOError{readErr}
	}
	return stats, ctx.Err()
}

func (d *Deidentifier) processLine(j job, opt BatchOptions, buf *bytes.Buffer) result {
	res := result{seq: j.seq}
	if j.err != nil {
		res.lerr = &LineError{Line: j.seq, Reason: j.err.Error()}
		return res
	}
	if len(bytes.TrimSpace(j.line)) == 0 {
		return res // blank line: nothing to write
	}
	in, err := ParseLine(j.line, opt.MaxBytes)
	if err != nil {
		le := &LineError{Line: j.seq, Reason: err.Error()}
		if in.ID != nil {
			le.ID = idString(in.ID)
		}
		res.lerr = le
		return res
	}
	out := d.Deidentify(in.Text, opt.Mode, opt.Surrogates)
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(outLine{ID: in.ID, Text: out.Text, Entities: out.Entities}); err != nil {
		res.lerr = &LineError{Line: j.seq, ID: idString(in.ID), Reason: "cannot encode the result"}
		return res
	}
	res.out = append([]byte(nil), buf.Bytes()...)
	res.ents = out.Entities
	res.bytes = len(in.Text)
	return res
}

// readLine reads one line (without its end), up to max bytes; a longer line
// is consumed and discarded, with tooLong set.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		chunk, e := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > max+1 {
				tooLong = true
				line = line[:0]
			} else {
				line = append(line, chunk...)
			}
		}
		if e == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			line = []byte{' '} // non-empty, so the caller reports it
		} else {
			line = bytes.TrimRight(line, "\r\n")
			if len(line) == 0 && e == nil {
				line = []byte{} // blank line
				return []byte(" "), false, nil
			}
		}
		return line, tooLong, e
	}
}

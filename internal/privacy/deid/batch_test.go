package deid

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestProcessKeepsOrderAndFormat(t *testing.T) {
	d := testDeid(t)
	var in bytes.Buffer
	n := 200
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, `{"id": "doc-%d", "text": "Mme Zoé Durand (%d), tél. 06 12 34 56 78."}`+"\n", i, i)
		if i%50 == 0 {
			in.WriteString("\n") // blank lines are skipped
		}
	}
	var out bytes.Buffer
	stats, err := d.Process(context.Background(), &in, &out, BatchOptions{Workers: 4}, func(le LineError) { t.Errorf("unexpected %v", le) })
	if err != nil {
		t.Fatal(err)
	}
	if stats.Documents != n || stats.Rejected != 0 {
		t.Fatalf("stats %+v", stats)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d output lines, want %d", len(lines), n)
	}
	for i, l := range lines {
		var o struct {
			ID       string   `json:"id"`
			Text     string   `json:"text"`
			Entities []Entity `json:"entities"`
		}
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatal(err)
		}
		if o.ID != fmt.Sprintf("doc-%d", i) {
			t.Fatalf("line %d has id %s: order lost", i, o.ID)
		}
		if o.Text != fmt.Sprintf("Mme [PRENOM] [NOM] (%d), tél. [TEL].", i) || len(o.Entities) != 3 {
			t.Fatalf("line %d: %s", i, l)
		}
	}
}

// Fail closed: bad lines produce no output and errors name line numbers
// and ids only, never the text.
func TestProcessFailsClosed(t *testing.T) {
	d := testDeid(t)
	const secret = "DUPONT Marcel 06 12 34 56 78"
	lines := []string{
		`{"id": "ok-1", "text": "Patient ` + secret + `"}`,
		`{"id": "bad-json", "text": "Patient ` + secret + `"`,
		"{\"id\": \"bad-utf8\", \"text\": \"Patient " + secret + " \xff\xfe\"}",
		`{"id": "lone-surrogate", "text": "Patient ` + secret + ` \ud800"}`,
		`{"id": "too-big", "text": "Patient ` + secret + strings.Repeat(" x", 600) + `"}`,
		`{"id": "no-text", "txt": "Patient ` + secret + `"}`,
		`{"text": "Patient ` + secret + `"}`,
		`["Patient ` + secret + `"]`,
		`{"id": "trailing", "text": "Patient ` + secret + `"} {"x": 1}`,
		`{"id": 42, "text": "Patient ` + secret + `"}`,
	}
	in := strings.Join(lines, "\n") + "\n"
	var out bytes.Buffer
	var errs []LineError
	stats, err := d.Process(context.Background(), strings.NewReader(in), &out, BatchOptions{MaxBytes: 1000}, func(le LineError) { errs = append(errs, le) })
	if err != nil {
		t.Fatal(err)
	}
	if stats.Documents != 2 || stats.Rejected != 8 || len(errs) != 8 {
		t.Fatalf("stats %+v, errors %v", stats, errs)
	}
	wantLines := []int{2, 3, 4, 5, 6, 7, 8, 9}
	for i, le := range errs {
		if le.Line != wantLines[i] {
			t.Errorf("error %d is for line %d, want %d", i, le.Line, wantLines[i])
		}
		msg := le.Error()
		for _, leak := range []string{"DUPONT", "Marcel", "06 12", "Patient"} {
			if strings.Contains(msg, leak) {
				t.Errorf("error message leaks text: %s", msg)
			}
		}
	}
	// The contract reports each entity's original text in "entities";
	// the de-identified "text" must hold none of it, and no rejected line
	// may appear at all.
	o := out.String()
	for _, l := range strings.Split(strings.TrimSpace(o), "\n") {
		var doc struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal([]byte(l), &doc); err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{"DUPONT", "Marcel", "06 12"} {
			if strings.Contains(doc.Text, leak) {
				t.Errorf("output text leaks %q: %s", leak, doc.Text)
			}
		}
	}
	for _, id := range []string{"bad-json", "bad-utf8", "lone-surrogate", "too-big", "no-text", "trailing"} {
		if strings.Contains(o, id) {
			t.Errorf("rejected line %s was written", id)
		}
	}
	if strings.Count(o, "\n") != 2 || !strings.Contains(o, `"id":"ok-1"`) || !strings.Contains(o, `"id":42`) {
		t.Errorf("output:\n%s", o)
	}
}

func TestProcessHugeLineBoundedMemory(t *testing.T) {
	d := testDeid(t)
	huge := `{"id": "huge", "text": "` + strings.Repeat("Dupont ", 200000) + `"}` + "\n" + `{"id": "next", "text": "ok"}` + "\n"
	var out bytes.Buffer
	var errs []LineError
	stats, err := d.Process(context.Background(), strings.NewReader(huge), &out, BatchOptions{MaxBytes: 1000}, func(le LineError) { errs = append(errs, le) })
	if err != nil || stats.Documents != 1 || len(errs) != 1 || errs[0].Line != 1 {
		t.Fatalf("stats %+v err %v errs %v", stats, err, errs)
	}
	if strings.Contains(out.String(), "Dupont") {
		t.Fatal("huge line leaked")
	}
}

func TestParseLine(t *testing.T) {
	in, err := ParseLine([]byte(`{"id":"a","text":"é \ufffd","entities":[]}`), 0)
	if err != nil || in.Text != "é \ufffd" || string(in.ID) != `"a"` {
		t.Fatalf("ParseLine: %+v %v", in, err)
	}
	if _, err := ParseLine([]byte(`{"id":null,"text":"x"}`), 0); err == nil {
		t.Error("null id accepted")
	}
	if _, err := ParseLine([]byte(`{"id":"a","text":7}`), 0); err == nil {
		t.Error("numeric text accepted")
	}
}

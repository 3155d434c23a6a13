package dataset

import (
	"bytes"
	"encoding/csv"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSniffCSV(t *testing.T) {
	tests := []struct {
		name string
		head string
		want Dialect
	}{
		{"commas", "a,b,c\n1,2,3\n4,5,6\n", Dialect{',', EncodingUTF8, '.'}},
		{"semicolons", "a;b;c\n1;2;3\n", Dialect{';', EncodingUTF8, '.'}},
		{"tabs", "a\tb\n1\t2\n", Dialect{'\t', EncodingUTF8, '.'}},
		{"semicolons and decimal commas", "nom;poids;taille\nA;70,5;1,80\nB;65,2;1,62\n", Dialect{';', EncodingUTF8, ','}},
		{"semicolons with commas in text", "nom;commentaire\nA;vu, revu, corrigé\nB;ok, ras\n", Dialect{';', EncodingUTF8, '.'}},
		{"commas win over a semicolon in a quoted field", "a,b\n\"x;y\",2\n\"z;w\",3\n", Dialect{',', EncodingUTF8, '.'}},
		{"decimal point with semicolons", "a;b\n1.5;2.25\n", Dialect{';', EncodingUTF8, '.'}},
		{"more commas than points", "a;b;c\n1,5;2,5;3.5\n", Dialect{';', EncodingUTF8, ','}},
		{"comma separator keeps the point", "a,b\n\"1,5\",2\n", Dialect{',', EncodingUTF8, '.'}},
		{"byte order mark", "\ufeffa;b\n1;2\n", Dialect{';', EncodingUTF8, '.'}},
		{"quoted newlines", "a;b\n\"line 1\nline 2; still\";2\n3;4\n", Dialect{';', EncodingUTF8, '.'}},
		{"windows-1252", "nom;pr\xe9nom\nH\xe9l\xe8ne;Z\xf6e\n", Dialect{';', EncodingWindows1252, '.'}},
		{"utf-8 rune cut at the end", "nom;prénom\nHélène;Zo\xc3", Dialect{';', EncodingUTF8, '.'}},
		{"one column", "ipp\nIPP1\nIPP2\n", Dialect{',', EncodingUTF8, '.'}},
		{"cut last line ignored", "a;b;c\n1;2;3\n4;5", Dialect{';', EncodingUTF8, '.'}},
		{"ragged: most fields on the first line", "a;b;c\n1;2\n", Dialect{';', EncodingUTF8, '.'}},
		{"empty", "", Dialect{',', EncodingUTF8, '.'}},
		{"CRLF", "a;b\r\n1;2\r\n", Dialect{';', EncodingUTF8, '.'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SniffCSV([]byte(tt.head)); got != tt.want {
				t.Errorf("SniffCSV = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// scanAll reads every record, reading its input a byte at a time when slow
// (so records cross buffer refills).
func scanAll(data []byte, sep byte, slow bool) ([][]string, []int, error) {
	var r io.Reader = bytes.NewReader(data)
	if slow {
		r = iotest.OneByteReader(r)
	}
	sc := newCSVScanner(r, sep)
	var recs [][]string
	var lines []int
	for {
		ok, err := sc.next()
		if err != nil {
			return recs, lines, err
		}
		if !ok {
			return recs, lines, nil
		}
		rec := make([]string, len(sc.fields))
		for i, f := range sc.fields {
			rec[i] = string(f)
		}
		recs = append(recs, rec)
		lines = append(lines, sc.recLine)
	}
}

func TestCSVScanner(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		sep       byte
		want      [][]string
		wantLines []int
	}{
		{"simple", "a,b\n1,2\n", ',', [][]string{{"a", "b"}, {"1", "2"}}, []int{1, 2}},
		{"no final newline", "a,b\n1,2", ',', [][]string{{"a", "b"}, {"1", "2"}}, []int{1, 2}},
		{"CRLF", "a;b\r\n1;2\r\n", ';', [][]string{{"a", "b"}, {"1", "2"}}, []int{1, 2}},
		{"blank lines skipped", "a\n\n\r\n1\n\n", ',', [][]string{{"a"}, {"1"}}, []int{1, 4}},
		{"empty fields", "a,,\n,,\n", ',', [][]string{{"a", "", ""}, {"", "", ""}}, []int{1, 2}},
		{"quoted separator", "a,\"b,c\"\n", ',', [][]string{{"a", "b,c"}}, []int{1}},
		{"doubled quotes", "\"say \"\"hi\"\"\",x\n", ',', [][]string{{"say \"hi\"", "x"}}, []int{1}},
		{"two fields with doubled quotes", "\"\"\"a\"\"\",\"b\"\"\"\n", ',', [][]string{{"\"a\"", "b\""}}, []int{1}},
		{"quoted newlines count lines", "h1,h2\n\"l1\nl2\nl3\",x\ny,z\n", ',', [][]string{{"h1", "h2"}, {"l1\nl2\nl3", "x"}, {"y", "z"}}, []int{1, 2, 5}},
		{"quoted CRLF kept", "\"a\r\nb\",c\r\n", ',', [][]string{{"a\r\nb", "c"}}, []int{1}},
		{"empty quoted field", "\"\",\"\"\n", ',', [][]string{{"", ""}}, []int{1}},
		{"quote inside an unquoted field is data", "5'6\",x\n", ',', [][]string{{"5'6\"", "x"}}, []int{1}},
		{"tabs", "a\tb c\n", '\t', [][]string{{"a", "b c"}}, []int{1}},
		{"separator at the end", "a,b,\n", ',', [][]string{{"a", "b", ""}}, []int{1}},
		{"separator at the very end of the input", "a,b,", ',', [][]string{{"a", "b", ""}}, []int{1}},
		{"quoted field at the end of the input", "a,\"b\"", ',', [][]string{{"a", "b"}}, []int{1}},
		{"quoted field then separator at the end", "\"a\",", ',', [][]string{{"a", ""}}, []int{1}},
		{"long line", strings.Repeat("x", 3<<20) + ",y\n", ',', [][]string{{strings.Repeat("x", 3<<20), "y"}}, []int{1}},
		{"long quoted field", "\"" + strings.Repeat("q\n", 1<<20) + "\",y\nz,w\n", ',', [][]string{{strings.Repeat("q\n", 1<<20), "y"}, {"z", "w"}}, []int{1, 1<<20 + 2}},
	}
	for _, tt := range tests {
		for _, slow := range []bool{false, true} {
			if slow && len(tt.in) > 1<<16 {
				continue
			}
			name := tt.name
			if slow {
				name += "/byte by byte"
			}
			t.Run(name, func(t *testing.T) {
				got, lines, err := scanAll([]byte(tt.in), tt.sep, slow)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.EqualFunc(got, tt.want, slices.Equal[[]string]) {
					t.Errorf("records = %q, want %q", trunc(got), trunc(tt.want))
				}
				if !slices.Equal(lines, tt.wantLines) {
					t.Errorf("lines = %v, want %v", lines, tt.wantLines)
				}
			})
		}
	}
}

func trunc(recs [][]string) [][]string {
	out := make([][]string, len(recs))
	for i, r := range recs {
		for _, f := range r {
			if len(f) > 20 {
				f = f[:20] + "…"
			}
			out[i] = append(out[i], f)
		}
	}
	return out
}

func TestCSVScannerErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantLine int
		want     string
	}{
		{"unclosed quote", "a,b\n1,\"abc\n2,3\n", 2, "not closed"},
		{"text after a closing quote", "a,b\n\n\"x\"y,2\n", 3, "after a closing quote"},
		{"unclosed quote on a later line", "a\n\"1\n2\n3\"\n\"4\n", 5, "not closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := scanAll([]byte(tt.in), ',', false)
			ce, ok := err.(*csvError)
			if !ok {
				t.Fatalf("error = %v, want a csvError", err)
			}
			if ce.line != tt.wantLine || !strings.Contains(ce.msg, tt.want) {
				t.Errorf("error = line %d %q, want line %d %q", ce.line, ce.msg, tt.wantLine, tt.want)
			}
		})
	}
}

func TestSplitFields(t *testing.T) {
	for _, rec := range []string{"", ",", "a", "a,b", ",,,,,,,,,", "abcdefgh,ijklmnop,", strings.Repeat("x,", 40), "é,ü,\xff\xfe,,"} {
		got := splitFields(nil, []byte(rec), ',')
		want := strings.Split(rec, ",")
		if len(got) != len(want) {
			t.Fatalf("splitFields(%q) = %d fields, want %d", rec, len(got), len(want))
		}
		for i := range got {
			if string(got[i]) != want[i] {
				t.Errorf("splitFields(%q)[%d] = %q, want %q", rec, i, got[i], want[i])
			}
		}
	}
}

var csvSeeds = []string{
	"a,b\n1,2\n",
	"a;b\r\n1,5;2\r\n",
	"a\tb\n\"x\ty\"\t2\n",
	"\ufeffnom;prénom\n\"Dupont\";\"Jean \"\"Jo\"\"\"\n",
	"a,b\n\"multi\nline\",2\n\n\n",
	"x\n\"unclosed\n",
	"h\n\"a\"b\n",
	"nom;pr\xe9nom\nH\xe9l\xe8ne;Z\xf6e\n",
	",,,\n,,,\n",
	"\"\",\"\"\n\"\"\"\",\"\"\"\"\"\"\n",
	"a,b\r\r\n1\r,2\n",
}

// FuzzSniffCSV: the sniffer never panics and always answers a supported
// dialect.
func FuzzSniffCSV(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		d := SniffCSV(head)
		if !strings.ContainsRune(",;\t", rune(d.Separator)) || (d.Decimal != '.' && d.Decimal != ',') {
			t.Fatalf("SniffCSV = %+v", d)
		}
		if d.Encoding != EncodingUTF8 && d.Encoding != EncodingWindows1252 {
			t.Fatalf("encoding %q", d.Encoding)
		}
		if d.Decimal == ',' && d.Separator == ',' {
			t.Fatal("decimal comma with a comma separator")
		}
	})
}

// FuzzCSVScanner: the scanner never panics, reads the same records however
// its input arrives, and what it reads, written back as CSV, reads back the
// same.
func FuzzCSVScanner(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s), byte(','))
		f.Add([]byte(s), byte(';'))
	}
	f.Fuzz(func(t *testing.T, data []byte, sep byte) {
		if sep != ',' && sep != ';' && sep != '\t' {
			sep = ','
		}
		recs, lines, err := scanAll(data, sep, false)
		slowRecs, slowLines, slowErr := scanAll(data, sep, true)
		if (err == nil) != (slowErr == nil) || !slices.EqualFunc(recs, slowRecs, slices.Equal[[]string]) || !slices.Equal(lines, slowLines) {
			t.Fatalf("reading at once and byte by byte differ: %q %v %v / %q %v %v", recs, lines, err, slowRecs, slowLines, slowErr)
		}
		for i := 1; i < len(lines); i++ {
			if lines[i] <= lines[i-1] {
				t.Fatalf("line numbers not increasing: %v", lines)
			}
		}
		if err != nil {
			return
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Comma = rune(sep)
		var kept [][]string
		for _, r := range recs {
			if len(r) == 1 && r[0] == "" {
				continue // a blank line, for both
			}
			if err := w.Write(r); err != nil {
				return
			}
			kept = append(kept, r)
		}
		w.Flush()
		back, _, err := scanAll(buf.Bytes(), sep, false)
		if err != nil {
			t.Fatalf("re-reading %q: %v", buf.Bytes(), err)
		}
		if !slices.EqualFunc(back, kept, slices.Equal[[]string]) {
			t.Fatalf("round trip: %q → %q → %q", data, kept, back)
		}
	})
}

func TestDialectText(t *testing.T) {
	d := Dialect{Separator: '\t', Encoding: EncodingWindows1252, Decimal: ','}
	b, err := d.MarshalJSON()
	if err != nil || string(b) != `{"decimal":",","encoding":"windows-1252","separator":"\t"}` {
		t.Errorf("JSON = %s, %v", b, err)
	}
	if s := d.String(); s != "separator tab, windows-1252, decimal mark ','" {
		t.Errorf("String = %q", s)
	}
}

package dataset_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
)

const exportCSV = "ipp;note;poids;vu le;ok\nIPP1;\"dit \"\"oui\"\"\nsur deux lignes\";70,5;17/01/2024;oui\nIPP2;;;;non\n"

func TestExport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		for _, level := range []dataset.Level{dataset.Pseudonymized, dataset.Identifying} {
			t.Run(string(level), func(t *testing.T) {
				res, err := e.importString(t, "x.csv", exportCSV, dataset.ImportOptions{Dataset: "x-" + string(level), Level: level})
				if err != nil {
					t.Fatal(err)
				}
				v := res.Version
				export := func(format string) []byte {
					t.Helper()
					var buf bytes.Buffer
					if err := e.ds.Export(e.steward, v, format, &buf); err != nil {
						t.Fatalf("Export %s: %v", format, err)
					}
					return buf.Bytes()
				}
				wantCSV := "ipp,note,poids,vu le,ok\nIPP1,\"dit \"\"oui\"\"\nsur deux lignes\",70.5,2024-01-17,true\nIPP2,,,,false\n"
				if got := string(export("csv")); got != wantCSV {
					t.Errorf("CSV = %q, want %q", got, wantCSV)
				}
				wantJSONL := `{"ipp":"IPP1","note":"dit \"oui\"\nsur deux lignes","poids":70.5,"vu le":"2024-01-17","ok":true}` + "\n" +
					`{"ipp":"IPP2","note":null,"poids":null,"vu le":null,"ok":false}` + "\n"
				if got := string(export("jsonl")); got != wantJSONL {
					t.Errorf("JSON Lines = %q, want %q", got, wantJSONL)
				}
				for _, line := range strings.Split(strings.TrimSpace(wantJSONL), "\n") {
					if !json.Valid([]byte(line)) {
						t.Errorf("invalid JSON: %s", line)
					}
				}
				pq := export("parquet")
				got, err := dataset.DecodeParquet(bytes.NewReader(pq), int64(len(pq)))
				if err != nil {
					t.Fatal(err)
				}
				want, err := e.ds.ReadFrame(e.steward, v)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := cells(got), cells(want); !equalRows(g, w) {
					t.Errorf("Parquet export = %q, want %q", g, w)
				}
				// What is exported imports back the same.
				for _, format := range []string{"csv", "jsonl", "parquet"} {
					back, err := e.ds.Import(e.steward, dataset.Stream("export."+format, format, bytes.NewReader(export(format))),
						dataset.ImportOptions{Project: "proj", Dataset: "x-" + string(level), Level: level, Roles: rolesOf(v)})
					if err != nil {
						t.Fatalf("re-import of the %s export: %v", format, err)
					}
					if back.Created || back.Version.ID != v.ID {
						t.Errorf("re-import of the %s export = version %d, want the same version %d", format, back.Version.Version, v.Version)
					}
				}
			})
		}
		if err := e.ds.Export(e.steward, dataset.Version{}, "xlsx", io.Discard); !errs.Is(err, errs.Invalid) {
			t.Errorf("Export xlsx = %v", err)
		}
	})
}

func equalRows(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") {
			return false
		}
	}
	return true
}

// Every way to read content follows Read's rules: identifying versions to
// stewards only, each attempt audited.
func TestReadAccessRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ident, err := e.importString(t, "c.csv", "ipp,nom\nIPP1,Dupont\n", dataset.ImportOptions{Dataset: "cohort", Level: dataset.Identifying})
		if err != nil {
			t.Fatal(err)
		}
		pseudo, err := e.importString(t, "p.csv", "ipp,age\nPS1,54\n", dataset.ImportOptions{Dataset: "pseudo", Level: dataset.Pseudonymized})
		if err != nil {
			t.Fatal(err)
		}
		reads := map[string]func(ctx context.Context, v dataset.Version, w io.Writer) error{
			"ReadFrame": func(ctx context.Context, v dataset.Version, w io.Writer) error {
				f, err := e.ds.ReadFrame(ctx, v)
				if f != nil {
					io.WriteString(w, f.String())
				}
				return err
			},
			"Read": func(ctx context.Context, v dataset.Version, w io.Writer) error {
				_, err := e.ds.Read(ctx, v)
				return err
			},
			"Scan": func(ctx context.Context, v dataset.Version, w io.Writer) error {
				return e.ds.Scan(ctx, v, []string{"ipp"}, func(f *dataset.Frame) error { _, err := io.WriteString(w, f.String()); return err })
			},
			"Export csv": func(ctx context.Context, v dataset.Version, w io.Writer) error { return e.ds.Export(ctx, v, "csv", w) },
			"Export parquet": func(ctx context.Context, v dataset.Version, w io.Writer) error {
				return e.ds.Export(ctx, v, "parquet", w)
			},
			"Export jsonl": func(ctx context.Context, v dataset.Version, w io.Writer) error {
				return e.ds.Export(ctx, v, "jsonl", w)
			},
		}
		for name, read := range reads {
			for _, tc := range []struct {
				who     string
				ctx     context.Context
				v       dataset.Version
				want    errs.Code
				outcome string // of the identifying-read event, "" for none
			}{
				{"steward, identifying", e.steward, ident.Version, "", audit.Success},
				{"scientist, identifying", e.scientist, ident.Version, errs.Forbidden, audit.Denied},
				{"viewer, identifying", e.viewer, ident.Version, errs.Forbidden, audit.Denied},
				{"nobody, identifying", context.Background(), ident.Version, errs.Unauthenticated, audit.Denied},
				{"scientist, pseudonymized", e.scientist, pseudo.Version, "", ""},
				{"viewer, pseudonymized", e.viewer, pseudo.Version, errs.Forbidden, ""},
			} {
				t.Run(name+"/"+tc.who, func(t *testing.T) {
					before := countEvents(t, e.audit, "dataset.read_identifying")
					var out bytes.Buffer
					err := read(tc.ctx, tc.v, &out)
					if errs.CodeOf(err) != tc.want {
						t.Fatalf("error = %v, want code %q", err, tc.want)
					}
					if tc.want != "" && out.Len() > 0 {
						t.Error("a refused read wrote content")
					}
					wantEvents := before
					if tc.outcome != "" {
						wantEvents++
					}
					if n := countEvents(t, e.audit, "dataset.read_identifying"); n != wantEvents {
						t.Fatalf("%d identifying-read events, want %d", n, wantEvents)
					}
					if tc.outcome != "" {
						evs, _ := e.audit.List(context.Background(), audit.Filter{Action: "dataset.read_identifying", Limit: 1})
						if evs[0].Outcome != tc.outcome || strings.Contains(evs[0].Detail, "Dupont") {
							t.Errorf("event = %+v, want outcome %s", evs[0], tc.outcome)
						}
					}
				})
			}
		}
	})
}

// The stored content of an identifying version is checked when read.
func TestEncryptedContentTampering(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		res, err := e.importString(t, "c.csv", "ipp,nom\nIPP1,Dupont\nIPP2,Martin\n", dataset.ImportOptions{Dataset: "cohort", Level: dataset.Identifying})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		objs, _ := e.blobs.List(ctx, "")
		if len(objs) != 1 || !strings.HasPrefix(objs[0].Key, "datasets/encrypted/") {
			t.Fatalf("blobs = %v", objs)
		}
		key := objs[0].Key
		rc, _ := e.blobs.Get(ctx, key)
		orig, _ := io.ReadAll(rc)
		rc.Close()
		for _, tc := range []struct {
			name string
			data []byte
		}{
			{"a bit flipped", func() []byte { b := bytes.Clone(orig); b[len(b)/2] ^= 1; return b }()},
			{"truncated", orig[:len(orig)-20]},
			{"emptied", nil},
			{"another version's ciphertext", func() []byte {
				other, err := e.importString(t, "o.csv", "ipp,nom\nIPP1,Dupont\nIPP2,Martin\n", dataset.ImportOptions{Dataset: "cohort2", Level: dataset.Identifying})
				if err != nil {
					t.Fatal(err)
				}
				_ = other
				objs, _ := e.blobs.List(ctx, "datasets/encrypted/")
				for _, o := range objs {
					if o.Key != key {
						rc, _ := e.blobs.Get(ctx, o.Key)
						b, _ := io.ReadAll(rc)
						rc.Close()
						return b
					}
				}
				t.Fatal("no other blob")
				return nil
			}()},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := e.blobs.Put(ctx, key, bytes.NewReader(tc.data)); err != nil {
					t.Fatal(err)
				}
				for _, format := range []string{"csv", "parquet"} {
					var out bytes.Buffer
					err := e.ds.Export(e.steward, res.Version, format, &out)
					if err == nil {
						t.Errorf("export %s of altered content succeeded", format)
					}
					if bytes.Contains(out.Bytes(), []byte("Dupont")) || (err != nil && strings.Contains(err.Error(), "Dupont")) {
						t.Errorf("export %s of altered content showed content", format)
					}
				}
				if _, err := e.ds.ReadFrame(e.steward, res.Version); err == nil {
					t.Error("ReadFrame of altered content succeeded")
				}
			})
		}
	})
}

// rolesOf confirms a version's own roles for a re-import.
func rolesOf(v dataset.Version) map[string]dataset.Role {
	m := map[string]dataset.Role{}
	for _, c := range v.Columns {
		m[c.Name] = c.Role
	}
	return m
}

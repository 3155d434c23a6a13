package serve

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/model"
)

func TestNumbersByDatatype(t *testing.T) {
	cases := []struct {
		dtype, data string
		want        []float64
		err         string
	}{
		{"FP64", `[1.5, -2, 3e2]`, []float64{1.5, -2, 300}, ""},
		{"FP64", `[[1,2],[3,4]]`, []float64{1, 2, 3, 4}, ""},
		{"FP64", `[ ]`, []float64{}, ""},
		{"FP64", `[[], []]`, []float64{}, ""},
		{"FP32", `[1e39]`, nil, "out of the range of FP32"},
		{"FP16", `[65504]`, []float64{65504}, ""},
		{"FP16", `[70000]`, nil, "out of the range"},
		{"INT8", `[-128, 127]`, []float64{-128, 127}, ""},
		{"INT8", `[128]`, nil, "out of the range"},
		{"INT32", `[2.0]`, []float64{2}, ""},
		{"INT32", `[2.5]`, nil, "whole number"},
		{"UINT8", `[255]`, []float64{255}, ""},
		{"UINT32", `[-1]`, nil, "out of the range"},
		{"INT64", `[null]`, nil, "only allowed in FP"},
		{"BOOL", `[true, false]`, []float64{1, 0}, ""},
		{"BOOL", `[1]`, nil, "true and false"},
		{"FP64", `[true]`, nil, "array of numbers"},
		{"FP64", `["1"]`, nil, "array of numbers"},
		{"FP64", `[1e999]`, nil, "finite"},
		{"FP64", `1`, nil, "must be an array"},
		{"FP64", ``, nil, "required"},
		{"FP64", `[1,]`, nil, "not valid JSON"},
		{"FP64", `[1 2]`, nil, "not valid JSON"},
		{"FP64", `[1]]`, nil, "not valid JSON"},
		{"FP64", `[[1]`, nil, "not valid JSON"},
		{"FP64", `[01]`, nil, "not valid JSON"},
		{"FP64", `[{"a":1}]`, nil, "scalars"},
		{"FP64", `[[[[[[[[[1]]]]]]]]]`, nil, "deeply"},
		{"BYTES", `["a"]`, nil, "not numeric"},
	}
	for _, tc := range cases {
		t.Run(tc.dtype+" "+tc.data, func(t *testing.T) {
			got, err := numbers(json.RawMessage(tc.data), tc.dtype)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("numbers = %v, %v; want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("numbers = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if got, err := numbers(json.RawMessage(`[null, 1]`), "FP32"); err != nil || !math.IsNaN(got[0]) || got[1] != 1 {
		t.Fatalf("null in FP32 = %v, %v; want NaN (missing)", got, err)
	}
}

func TestStrings(t *testing.T) {
	got, err := flattenStrings(json.RawMessage(`[["a", "\u00e9t\u00e9"], ["c\"d", "x,y]"]]`))
	if err != nil || !reflect.DeepEqual(got, []string{"a", "été", `c"d`, "x,y]"}) {
		t.Fatalf("flattenStrings = %q, %v", got, err)
	}
	if _, err := flattenStrings(json.RawMessage(`["a", 1]`)); err == nil {
		t.Fatal("a number in BYTES data was accepted")
	}
}

func TestAppendJSON(t *testing.T) {
	for _, s := range []string{"plain", `qu"ote`, "back\\slash", "tab\t", "été", "<b>"} {
		b := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("appendJSONString(%q) = %s", s, b)
		}
	}
	if got := string(appendJSONNumber(nil, math.NaN())); got != "null" {
		t.Errorf("NaN as %s", got)
	}
}

// FuzzScanArray checks the tensor-data scanner agrees with encoding/json
// on which documents are arrays of numbers, and on their values.
func FuzzScanArray(f *testing.F) {
	for _, s := range []string{`[1,2]`, `[[1],[2.5e3]]`, `[]`, `[1,]`, `[-0]`, `["a"]`, `[true]`, `[[[]]]`, `[1 2]`, ` [ 1 ] `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := numbers(b, "FP64")
		var tree any
		if json.Unmarshal(b, &tree) != nil {
			if err == nil {
				t.Fatalf("%q: accepted invalid JSON as %v", b, got)
			}
			return
		}
		if err != nil {
			return
		}
		var want []float64
		var walk func(any, int) bool
		walk = func(x any, depth int) bool {
			switch v := x.(type) {
			case []any:
				for _, e := range v {
					if !walk(e, depth+1) {
						return false
					}
				}
				return true
			case float64:
				want = append(want, v)
				return true
			case nil:
				want = append(want, math.NaN())
				return true
			}
			return false
		}
		if _, ok := tree.([]any); !ok || !walk(tree, 0) {
			t.Fatalf("%q: accepted as %v", b, got)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %v, want %v", b, got, want)
		}
		for i := range got {
			if got[i] != want[i] && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
				t.Fatalf("%q: %v, want %v", b, got, want)
			}
		}
	})
}

// FuzzParseRequest checks the fast request parser against encoding/json:
// whatever it accepts, encoding/json (with unknown fields refused) decodes
// to the same request.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","inputs":[{"name":"x","shape":[2,1],"datatype":"FP64","data":[[1],[2]]}]}`,
		`{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["a\"b"],"parameters":{"k":1}}],"parameters":{"p":[1,2]},"outputs":[{"name":"y"}]}`,
		`{"inputs":[]}`, `{"inputs":null}`, `{"id":null}`, `{"Inputs":[]}`, `{"inputs":[{"name":"x","shape":[1.0],"data":1}]}`,
		` { "inputs" : [ { "data" : "s" , "name" : "n" } ] } `, `{"inputs":[{"data":{"a":[1,"]"]}}]}`,
		// Without a first pass of json.Valid, the scanner itself refuses these.
		`{"inputs":[{"name":"","shape":[`, `{"outputs":[{"":""}]}`, `{"inputs":nul}`, `{"inputs":[{"data":[1,2}]}`,
		`{"inputs":[{"shape":[1,]}]}`, `{"inputs":[],}`, `{"id":"a"} x`, `{"inputs":[{"name":"x","data":[1] "shape":[1]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseRequest(b)
		if err != nil {
			return
		}
		var want Request
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&want); err != nil || dec.More() {
			t.Fatalf("%q: ParseRequest accepted what encoding/json refuses (%v)", b, err)
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Fatalf("%q:\n got %s\nwant %s", b, g, w)
		}
	})
}

func TestResponseAppendJSON(t *testing.T) {
	for _, r := range []Response{
		{ModelName: "m", ModelVersion: "2", ID: "a\"b", Parameters: map[string]any{"prediction_ids": []string{"x", "y"}},
			Outputs: []OutTensor{{Name: "p", Shape: []int64{2}, Datatype: "FP64", Data: []float64{0.25, 1e-9}}}},
		{ModelName: "m", ModelVersion: "1", Parameters: map[string]any{"prediction_ids": []string{}, "k": []any{1.0, "v"}},
			Outputs: []OutTensor{{Name: "p", Shape: []int64{0}, Datatype: "FP64", Data: []float64{}}}},
		{ModelName: "m", ModelVersion: "1", Outputs: []OutTensor{}},
	} {
		var fast, slow any
		if err := json.Unmarshal(r.AppendJSON(nil), &fast); err != nil {
			t.Fatalf("%s: %v", r.AppendJSON(nil), err)
		}
		b, _ := json.Marshal(r)
		json.Unmarshal(b, &slow)
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("AppendJSON %s\nencoding/json %s", r.AppendJSON(nil), b)
		}
	}
}

// The compiled form of a gradient-boosted model predicts exactly what the
// learner predicts, missing and unknown values included.
func TestCompiledGBDT(t *testing.T) {
	tab := &model.Table{Cols: []model.Column{{Name: "age"}, {Name: "ward"}, {Name: "y"}}}
	wards := []string{"icu", "med", "surg", "ped", "onco"}
	for i := range 600 {
		age := float64(20 + (i*37)%60)
		if i%17 == 0 {
			age = math.NaN()
		}
		w := wards[(i*7)%len(wards)]
		y := "no"
		if (age > 50 && w != "ped") || (i%5 == 0) {
			y = "yes"
		}
		tab.Cols[0].Num = append(tab.Cols[0].Num, age)
		tab.Cols[1].Text = append(tab.Cols[1].Text, w)
		tab.Cols[2].Text = append(tab.Cols[2].Text, y)
	}
	for _, positive := range []string{"yes", ""} {
		p, _ := model.ParseParams(model.GBDT, map[string]string{"trees": "30", "min_samples_leaf": "5"})
		target := "y"
		if positive == "" { // a regression on age
			target, tab = "age", dropNaN(tab)
		}
		pb, err := model.Prepare(tab, target, positive, nil, p)
		if err != nil {
			t.Fatal(err)
		}
		m, err := pb.Fit(nil)
		if err != nil {
			t.Fatal(err)
		}
		raw := append(pb.Raw, []float64{math.NaN(), math.NaN()}, []float64{30, 17}, []float64{30, 1.5})
		want, err := m.GBDT.PredictBatch(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := compile(m.GBDT).predictBatch(raw)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("compiled %v, %v\nlearner  %v", got[:5], err, want[:5])
		}
	}
}

func dropNaN(t *model.Table) *model.Table {
	var keep []int
	for i, v := range t.Cols[0].Num {
		if !math.IsNaN(v) {
			keep = append(keep, i)
		}
	}
	return t.Subset(keep)
}

// The plain form of a request (what clients send) takes the fast path and
// reads as encoding/json reads it.
func TestParseRequestPlainForm(t *testing.T) {
	for _, s := range []string{
		`{"inputs":[{"name":"sex","shape":[1],"datatype":"BYTES","data":["Male"]},{"name":"age","shape":[1,1],"datatype":"FP64","data":[[39]]}]}`,
		` {"id":"r-1", "inputs": [ {"name":"x","datatype":"INT32","shape":[2],"data":[1,2],"parameters":{"a":1}} ], "parameters":{"explain":true},"outputs":[{"name":"y"}]} `,
		`{"inputs":null}`,
	} {
		got, err := ParseRequest([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		var want Request
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Fatalf("%s:\n got %s\nwant %s", s, g, w)
		}
	}
}

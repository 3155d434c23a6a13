package serve

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/model"
)

func tensor(name, dtype string, shape []int64, data string) Tensor {
	return Tensor{Name: name, Datatype: dtype, Shape: shape, Data: json.RawMessage(data)}
}

func TestRowsLayouts(t *testing.T) {
	features := []string{"taille_m", "poids_kg"}
	want := [][]float64{{1.7, 70}, {1.6, 55}}
	cases := []struct {
		name   string
		inputs []Tensor
	}{
		{"one tensor per feature", []Tensor{tensor("poids_kg", "FP64", []int64{2}, "[70,55]"), tensor("taille_m", "FP32", []int64{2}, "[1.7,1.6]")}},
		{"column tensors [N,1]", []Tensor{tensor("taille_m", "FP64", []int64{2, 1}, "[[1.7],[1.6]]"), tensor("poids_kg", "INT64", []int64{2, 1}, "[[70],[55]]")}},
		{"one [N,F] tensor, nested", []Tensor{tensor("input", "FP64", []int64{2, 2}, "[[1.7,70],[1.6,55]]")}},
		{"one [N,F] tensor, flat", []Tensor{tensor("input", "FP64", []int64{2, 2}, "[1.7,70,1.6,55]")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rows(features, tc.inputs)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("rows = %v, %v; want %v", got, err, want)
			}
		})
	}
}

func TestRowsRejects(t *testing.T) {
	features := []string{"taille_m", "poids_kg"}
	ok := tensor("poids_kg", "FP64", []int64{1}, "[70]")
	cases := []struct {
		name   string
		inputs []Tensor
		want   string
	}{
		{"no inputs", nil, "at least one"},
		{"missing feature", []Tensor{ok}, `"taille_m" is missing`},
		{"unknown feature", []Tensor{ok, tensor("taille_m", "FP64", []int64{1}, "[1.7]"), tensor("nir", "FP64", []int64{1}, "[1]")}, `"nir" is not a feature`},
		{"shape vs data", []Tensor{ok, tensor("taille_m", "FP64", []int64{2}, "[1.7]")}, "shape [2] holds 2 values, data has 1"},
		{"rows differ", []Tensor{ok, tensor("taille_m", "FP64", []int64{2}, "[1.7,1.8]")}, "rows"},
		{"bytes", []Tensor{tensor("taille_m", "BYTES", []int64{1}, `["x"]`)}, "not numeric"},
		{"string in data", []Tensor{ok, tensor("taille_m", "FP64", []int64{1}, `["1.7"]`)}, "array of numbers"},
		{"not an array", []Tensor{ok, tensor("taille_m", "FP64", []int64{1}, `1.7`)}, "must be an array"},
		{"negative dim", []Tensor{ok, tensor("taille_m", "FP64", []int64{-1}, `[1.7]`)}, "negative"},
		{"3-d", []Tensor{ok, tensor("taille_m", "FP64", []int64{1, 1, 1}, `[[[1.7]]]`)}, "want [N] or [N,1]"},
		{"duplicate", []Tensor{ok, ok}, "given twice"},
		{"overflow", []Tensor{ok, tensor("taille_m", "FP64", []int64{1}, `[1e999]`)}, "finite"},
		{"too many rows", []Tensor{tensor("x", "FP64", []int64{MaxBatch + 1, 2}, "["+strings.Repeat("0,", 2*(MaxBatch+1)-1)+"0]")}, "at most"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rows(features, tc.inputs)
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("rows = %v, want invalid %q", err, tc.want)
			}
		})
	}
}

func FuzzRows(f *testing.F) {
	f.Add([]byte(`[{"name":"a","datatype":"FP64","shape":[2],"data":[1,2]},{"name":"b","datatype":"FP64","shape":[2],"data":[3,4]}]`))
	f.Add([]byte(`[{"name":"x","datatype":"FP64","shape":[1,2],"data":[[1,2]]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var in []Tensor
		if json.Unmarshal(b, &in) != nil {
			return
		}
		X, err := rows([]string{"a", "b"}, in)
		if err != nil {
			return
		}
		for _, r := range X {
			if len(r) != 2 {
				t.Fatalf("row of %d values", len(r))
			}
		}
	})
}

func TestTableFromTensors(t *testing.T) {
	ins := []model.Input{{Name: "age", Type: model.Numeric}, {Name: "ward", Type: model.Categorical, Categories: []string{"icu", "med"}}}
	tab, err := table(ins, []Tensor{tensor("ward", "BYTES", []int64{2}, `["icu","med"]`), tensor("age", "FP64", []int64{2, 1}, `[[54],[71]]`)})
	if err != nil || tab.Rows() != 2 || tab.Col("age").Num[1] != 71 || tab.Col("ward").Text[0] != "icu" {
		t.Fatalf("%+v %v", tab, err)
	}
	for _, c := range []struct {
		in  []Tensor
		msg string
	}{
		{[]Tensor{tensor("age", "FP64", []int64{1}, `[1]`)}, `"ward" is missing`},
		{[]Tensor{tensor("age", "BYTES", []int64{1}, `["x"]`), tensor("ward", "BYTES", []int64{1}, `["icu"]`)}, "not numeric"},
		{[]Tensor{tensor("age", "FP64", []int64{1}, `[1]`), tensor("ward", "BYTES", []int64{1}, `[3]`)}, "array of strings"},
		{[]Tensor{tensor("age", "FP64", []int64{2}, `[1]`), tensor("ward", "BYTES", []int64{1}, `["icu"]`)}, "shape"},
		{[]Tensor{tensor("age", "FP64", []int64{1}, `[1]`), tensor("ward", "BYTES", []int64{2}, `["icu","med"]`)}, "rows"},
		{[]Tensor{tensor("bmi", "FP64", []int64{1}, `[1]`)}, "not an input"},
		{[]Tensor{tensor("age", "FP64", []int64{1}, `[1]`), tensor("age", "FP64", []int64{1}, `[1]`)}, "twice"},
		{[]Tensor{tensor("age", "FP64", []int64{1, 2}, `[1, 2]`)}, "shape"},
		{[]Tensor{tensor("age", "COMPLEX", []int64{1}, `[1]`)}, "unknown datatype"},
	} {
		if _, err := table(ins, c.in); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: %v, want %q", c.in, err, c.msg)
		}
	}
}

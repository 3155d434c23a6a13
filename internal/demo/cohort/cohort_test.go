package cohort

import (
	"bytes"
	"encoding/csv"
	"errors"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestGenerateDeterministic(t *testing.T) {
	tests := []struct {
		name   string
		n1, n2 int
		s1, s2 int64
		same   bool
	}{
		{"same seed", 200, 200, 7, 7, true},
		{"negative seed", 50, 50, -3, -3, true},
		{"other seed", 200, 200, 7, 8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := Generate(tt.n1, tt.s1), Generate(tt.n2, tt.s2)
			if got := reflect.DeepEqual(a, b); got != tt.same {
				t.Errorf("cohorts equal = %v, want %v", got, tt.same)
			}
		})
	}
	small, large := Generate(30, 5), Generate(300, 5)
	if !reflect.DeepEqual(small, large[:30]) {
		t.Error("Generate(30, seed) is not the first 30 patients of Generate(300, seed)")
	}
}

func TestGenerateSizes(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 7, 1000} {
		got := Generate(n, 1)
		if want := max(n, 0); len(got) != want {
			t.Errorf("Generate(%d) returned %d patients, want %d", n, len(got), want)
		}
		if got == nil {
			t.Errorf("Generate(%d) returned nil, want an empty slice", n)
		}
	}
}

func TestGeneratePatients(t *testing.T) {
	const n = 5000
	patients := Generate(n, 42)
	idRE := regexp.MustCompile(`^P\d{6}$`)
	first := time.Date(1930, 1, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(2005, 12, 31, 0, 0, 0, 0, time.UTC)
	nirs := map[string]bool{}
	var sum, sumSq, count [2]float64 // by sex: 0 = F, 1 = M
	for i, p := range patients {
		if want := "P" + strconv.Itoa(1000000 + i + 1)[1:]; p.PatientID != want || !idRE.MatchString(p.PatientID) {
			t.Fatalf("patient %d: ID %q, want %q", i, p.PatientID, want)
		}
		if p.LastName == "" || p.FirstName == "" {
			t.Fatalf("%s: empty name", p.PatientID)
		}
		if p.BirthDate.Before(first) || p.BirthDate.After(last) || p.BirthDate.Location() != time.UTC ||
			!p.BirthDate.Equal(p.BirthDate.Truncate(24*time.Hour)) {
			t.Fatalf("%s: birth date %v, want a UTC day in 1930–2005", p.PatientID, p.BirthDate)
		}

		// NIR: valid, unique, and consistent with sex and birth date.
		if !ValidNIR(p.NIR) {
			t.Fatalf("%s: invalid NIR %s", p.PatientID, p.NIR)
		}
		if nirs[p.NIR] {
			t.Fatalf("%s: duplicate NIR %s", p.PatientID, p.NIR)
		}
		nirs[p.NIR] = true
		sexDigit := map[string]string{"M": "1", "F": "2"}[p.Sex]
		if sexDigit == "" {
			t.Fatalf("%s: sex %q, want F or M", p.PatientID, p.Sex)
		}
		if want := sexDigit + p.BirthDate.Format("0601"); p.NIR[:5] != want {
			t.Fatalf("%s: NIR %s starts with %s, want %s (sex, year, month)", p.PatientID, p.NIR, p.NIR[:5], want)
		}
		if d := p.NIR[5:7]; d < "01" || d > "95" || d == "20" {
			t.Fatalf("%s: NIR %s has department %s", p.PatientID, p.NIR, d)
		}

		// Height, weight and BMI: rounded as documented, BMI consistent and plausible.
		if p.HeightCM != round(p.HeightCM, 1) || p.WeightKG != round(p.WeightKG, 1) || p.BMI != round(p.BMI, 2) {
			t.Fatalf("%s: height %v, weight %v, BMI %v not rounded to 0.1/0.1/0.01", p.PatientID, p.HeightCM, p.WeightKG, p.BMI)
		}
		h := p.HeightCM / 100
		if want := math.Round(p.WeightKG/(h*h)*100) / 100; math.Abs(p.BMI-want) > 1e-9 {
			t.Fatalf("%s: BMI %v, want %v from %v kg and %v cm", p.PatientID, p.BMI, want, p.WeightKG, p.HeightCM)
		}
		if p.BMI < 18 || p.BMI > 40 {
			t.Fatalf("%s: BMI %v outside 18–40", p.PatientID, p.BMI)
		}
		if p.HeightCM < 130 || p.HeightCM > 200 {
			t.Fatalf("%s: height %v cm implausible", p.PatientID, p.HeightCM)
		}
		k := 0
		if p.Sex == "M" {
			k = 1
		}
		sum[k] += p.HeightCM
		sumSq[k] += p.HeightCM * p.HeightCM
		count[k]++
	}

	// Heights ~ N(162, 7) for women and N(170, 7) for men.
	for k, want := range []float64{162, 170} {
		if count[k] < 0.4*n {
			t.Errorf("sex %d: only %v of %d patients", k, count[k], n)
			continue
		}
		mean := sum[k] / count[k]
		sd := math.Sqrt(sumSq[k]/count[k] - mean*mean)
		if math.Abs(mean-want) > 0.5 || math.Abs(sd-7) > 0.5 {
			t.Errorf("sex %d: height mean %.2f sd %.2f, want ≈ %v and 7", k, mean, sd, want)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	tests := []struct {
		name string
		n    int
	}{{"empty", 0}, {"one", 1}, {"many", 500}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			patients := Generate(tt.n, 3)
			var buf bytes.Buffer
			if err := WriteCSV(&buf, patients); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(buf.String(), "patient_id,nom,prenom,nir,sexe,date_naissance,taille_cm,poids_kg,imc,hba1c,readmission_30j\n") {
				t.Fatalf("header line: %q", strings.SplitN(buf.String(), "\n", 2)[0])
			}
			records, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(records) != tt.n+1 {
				t.Fatalf("%d records, want header + %d rows", len(records), tt.n)
			}
			dateRE := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
			oneDec := regexp.MustCompile(`^\d+\.\d$`)
			twoDec := regexp.MustCompile(`^\d+\.\d\d$`)
			for i, rec := range records[1:] {
				p := patients[i]
				if want := []string{p.PatientID, p.LastName, p.FirstName, p.NIR, p.Sex}; !reflect.DeepEqual(rec[:5], want) {
					t.Fatalf("row %d: %q, want %q", i, rec[:5], want)
				}
				if !dateRE.MatchString(rec[5]) || rec[5] != p.BirthDate.Format("2006-01-02") {
					t.Fatalf("row %d: date %q", i, rec[5])
				}
				if !oneDec.MatchString(rec[6]) || !oneDec.MatchString(rec[7]) || !twoDec.MatchString(rec[8]) {
					t.Fatalf("row %d: numbers %q", i, rec[6:])
				}
				h, _ := strconv.ParseFloat(rec[6], 64)
				w, _ := strconv.ParseFloat(rec[7], 64)
				bmi, _ := strconv.ParseFloat(rec[8], 64)
				if h != p.HeightCM || w != p.WeightKG || bmi != p.BMI {
					t.Fatalf("row %d: %v/%v/%v read back, want %v/%v/%v", i, h, w, bmi, p.HeightCM, p.WeightKG, p.BMI)
				}
				if math.Abs(bmi-w/(h*h/1e4)) > 0.005+1e-9 {
					t.Fatalf("row %d: imc %v inconsistent with %v kg, %v cm", i, bmi, w, h)
				}
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteCSVError(t *testing.T) {
	if err := WriteCSV(failingWriter{}, Generate(3, 1)); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteCSV to a failing writer: error = %v", err)
	}
}

func TestValidNIR(t *testing.T) {
	tests := []struct {
		nir  string
		want bool
	}{
		// Keys computed independently (97 - number mod 97).
		{"255081416802538", true},
		{"184037645108996", true},
		{"169129999900107", true},
		{"205097505612345", true},
		{"185022A12345682", true}, // Corsica: 2A counts as 19
		{"185022B12345612", true}, // Corsica: 2B counts as 18
		{"185022B12345682", false},
		{"255081416802539", false},
		{"255081416802500", false},
		{"355081416802538", false}, // sex digit
		{"055081416802538", false},
		{"25508141680253", false},   // too short
		{"2550814168025380", false}, // too long
		{"2 55 08 14 168 025 38", false},
		{"25508141680X538", false},
		{"2550814168025-8", false},
		{"185022C12345682", false},
		{"18502A212345682", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidNIR(tt.nir); got != tt.want {
			t.Errorf("ValidNIR(%q) = %v, want %v", tt.nir, got, tt.want)
		}
	}
}

func TestValidNIRDetectsChangedDigit(t *testing.T) {
	nirs := []string{"255081416802538", "185022A12345682"}
	for _, p := range Generate(100, 9) {
		nirs = append(nirs, p.NIR)
	}
	for _, nir := range nirs {
		if !ValidNIR(nir) {
			t.Fatalf("ValidNIR(%s) = false", nir)
		}
		for i := range len(nir) {
			if nir[i] < '0' || nir[i] > '9' {
				continue
			}
			for d := byte('0'); d <= '9'; d++ {
				if d == nir[i] {
					continue
				}
				changed := nir[:i] + string(d) + nir[i+1:]
				if ValidNIR(changed) {
					t.Errorf("ValidNIR(%s) = true after changing digit %d of %s", changed, i, nir)
				}
			}
		}
	}
}

// Package cohort generates a synthetic patient cohort for hygie's end-to-end
// demo. The patients are not real: names are drawn at random from short lists
// of common French first and last names, and every other field (NIR, birth
// date, height, weight) is generated. Any resemblance to a real person is
// coincidental.
//
// The cohort looks like an extract from a French hospital system: a patient
// number, a name, a NIR (social security number) with a valid control key,
// sex, birth date, height, weight, BMI, HbA1c and whether the patient was
// readmitted within 30 days (the outcome the demo's risk model predicts). Generation is deterministic for a
// given size and seed.
package cohort

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Patient is one synthetic patient.
type Patient struct {
	PatientID string // "P000001", "P000002", …
	LastName  string
	FirstName string
	NIR       string // 15 digits: 13-digit number + 2-digit control key
	Sex       string // "F" or "M"
	BirthDate time.Time
	HeightCM  float64 // rounded to 0.1 cm
	WeightKG  float64 // rounded to 0.1 kg
	BMI       float64 // WeightKG / (HeightCM/100)², rounded to 0.01
	HbA1c     float64 // glycated haemoglobin, %, rounded to 0.1
	// Readmitted: readmitted within 30 days of discharge, drawn from a
	// logistic model of age, BMI, HbA1c and sex (see readmissionLogit).
	Readmitted bool
}

// outcomeStream is the PCG stream of the clinical fields (HbA1c and
// readmission), kept apart so the identity and body fields stay as they were.
const outcomeStream = 0x68796769652d6f75 // "hygie-ou"

// refDate is the date ages are computed at.
var refDate = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// readmissionLogit is the log-odds of a 30-day readmission: rising with
// age, BMI and HbA1c, higher for men; about 13 % of the cohort.
func readmissionLogit(p *Patient) float64 {
	age := refDate.Sub(p.BirthDate).Hours() / 24 / 365.25
	male := 0.0
	if p.Sex == "M" {
		male = 1
	}
	return -3.0 + 0.06*(age-55) + 0.15*(p.BMI-25) + 1.8*(p.HbA1c-5.8) + 0.5*male
}

// cohortStream is the PCG stream used by Generate; changing it changes every
// generated cohort, so it is fixed.
const cohortStream = 0x68796769652d636f // "hygie-co"

var (
	firstBirth = time.Date(1930, time.January, 1, 0, 0, 0, 0, time.UTC)
	lastBirth  = time.Date(2005, time.December, 31, 0, 0, 0, 0, time.UTC)
)

// Height in cm ~ N(mean, heightSD), redrawn beyond heightSDs standard deviations.
const (
	heightMeanM = 170.0
	heightMeanF = 162.0
	heightSD    = 7.0
	heightSDs   = 3.5
)

// BMI target ~ lognormal around 25 (right-skewed like real adult BMI),
// redrawn outside [bmiMin, bmiMax]. Rounding the weight to 0.1 kg moves the
// final BMI by less than 0.03, so it always lies within 18–40.
const (
	bmiMedian = 25.0
	bmiLogSD  = 0.16
	bmiMin    = 18.5
	bmiMax    = 39.5
)

// Generate returns n synthetic patients (none if n <= 0). The same n and seed
// always give the same cohort, and a cohort of n patients is the first n
// patients of any larger cohort with the same seed. Patient IDs are
// "P000001" upwards; NIRs are unique within the cohort.
func Generate(n int, seed int64) []Patient {
	if n <= 0 {
		return []Patient{}
	}
	r := rand.New(rand.NewPCG(uint64(seed), cohortStream))
	ro := rand.New(rand.NewPCG(uint64(seed), outcomeStream))
	days := int(lastBirth.Sub(firstBirth).Hours()/24) + 1
	nirs := make(map[string]bool, n)
	patients := make([]Patient, n)
	for i := range patients {
		p := &patients[i]
		p.PatientID = fmt.Sprintf("P%06d", i+1)

		female := r.IntN(2) == 0
		meanHeight := heightMeanM
		if female {
			p.Sex = "F"
			p.FirstName = firstNamesF[r.IntN(len(firstNamesF))]
			meanHeight = heightMeanF
		} else {
			p.Sex = "M"
			p.FirstName = firstNamesM[r.IntN(len(firstNamesM))]
		}
		p.LastName = lastNames[r.IntN(len(lastNames))]
		p.BirthDate = firstBirth.AddDate(0, 0, r.IntN(days))

		z := r.NormFloat64()
		for math.Abs(z) > heightSDs {
			z = r.NormFloat64()
		}
		p.HeightCM = round(meanHeight+heightSD*z, 1)
		h := p.HeightCM / 100
		bmi := 0.0
		for bmi < bmiMin || bmi > bmiMax {
			bmi = bmiMedian * math.Exp(bmiLogSD*r.NormFloat64())
		}
		p.WeightKG = round(bmi*h*h, 1)
		p.BMI = round(p.WeightKG/(h*h), 2)
		p.HbA1c = round(math.Min(12, math.Max(4.2, 5.6+0.06*(p.BMI-25)+0.6*ro.NormFloat64())), 1)
		p.Readmitted = ro.Float64() < 1/(1+math.Exp(-readmissionLogit(p)))

		dept := departments[r.IntN(len(departments))]
		commune := 1 + r.IntN(990)
		for {
			p.NIR = makeNIR(female, p.BirthDate, dept, commune, 1+r.IntN(999))
			if !nirs[p.NIR] {
				nirs[p.NIR] = true
				break
			}
		}
	}
	return patients
}

// CSVHeader is the header line WriteCSV writes, in column order.
var CSVHeader = []string{"patient_id", "nom", "prenom", "nir", "sexe", "date_naissance", "taille_cm", "poids_kg", "imc", "hba1c", "readmission_30j"}

// WriteCSV writes patients as CSV (comma-separated, "\n" line ends, UTF-8)
// with the header CSVHeader. Dates are written as YYYY-MM-DD, height and
// weight with one decimal and BMI with two, all with '.' as decimal point.
func WriteCSV(w io.Writer, patients []Patient) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, p := range patients {
		err := cw.Write([]string{
			p.PatientID,
			p.LastName,
			p.FirstName,
			p.NIR,
			p.Sex,
			p.BirthDate.Format(time.DateOnly),
			strconv.FormatFloat(p.HeightCM, 'f', 1, 64),
			strconv.FormatFloat(p.WeightKG, 'f', 1, 64),
			strconv.FormatFloat(p.BMI, 'f', 2, 64),
			strconv.FormatFloat(p.HbA1c, 'f', 1, 64),
			yesNo(p.Readmitted),
		})
		if err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func yesNo(b bool) string {
	if b {
		return "oui"
	}
	return "non"
}

func round(x float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(x*p) / p
}

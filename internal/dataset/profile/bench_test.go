package profile

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/hygie-health/hygie/internal/dataset"
)

// benchFrame builds a synthetic cohort of n rows and 30 columns of every
// type and role, from a seeded source.
func benchFrame(n int, seed uint64) *dataset.Frame {
	rng := rand.New(rand.NewPCG(seed, 42))
	f := &dataset.Frame{}
	add := func(name string, t dataset.Type, r dataset.Role, fill func(v *dataset.Vec, i int)) {
		v := dataset.NewVec(t, n)
		for i := range n {
			fill(v, i)
		}
		f.Columns = append(f.Columns, dataset.Column{Name: name, Type: t, Role: r})
		f.Vecs = append(f.Vecs, v)
	}
	pool := func(prefix string, m int) []string {
		out := make([]string, m)
		for i := range out {
			out[i] = prefix + strconv.Itoa(i)
		}
		return out
	}
	patients, names, codes, communes := pool("P", n/5+1), pool("NOM", 20_000), pool("I", 2_000), pool("750", 900)
	words := pool("mot", 5_000)

	add("patient_id", dataset.TypeString, dataset.RolePatientID, func(v *dataset.Vec, i int) { v.AppendString(patients[rng.IntN(len(patients))]) })
	add("nom", dataset.TypeString, dataset.RoleDirectIdentifier, func(v *dataset.Vec, i int) { v.AppendString(names[rng.IntN(len(names))]) })
	add("note", dataset.TypeText, dataset.RoleText, func(v *dataset.Vec, i int) {
		v.AppendString(words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))])
	})
	add("age", dataset.TypeInteger, dataset.RoleQuasiIdentifier, func(v *dataset.Vec, i int) { v.AppendInt(int64(min(105, max(0, 60+rng.NormFloat64()*18)))) })
	add("sexe", dataset.TypeString, dataset.RoleQuasiIdentifier, func(v *dataset.Vec, i int) { v.AppendString([]string{"F", "M"}[rng.IntN(2)]) })
	add("code_postal", dataset.TypeString, dataset.RoleQuasiIdentifier, func(v *dataset.Vec, i int) { v.AppendString(communes[rng.IntN(len(communes))]) })
	add("date_naissance", dataset.TypeDate, dataset.RoleQuasiIdentifier, func(v *dataset.Vec, i int) { v.AppendInt(-25_000 + rng.Int64N(30_000)) })
	add("date_entree", dataset.TypeDate, dataset.RoleDate, func(v *dataset.Vec, i int) { v.AppendInt(17_000 + rng.Int64N(2_000)) })
	add("date_sortie", dataset.TypeDate, dataset.RoleDate, func(v *dataset.Vec, i int) {
		if rng.IntN(50) == 0 {
			v.AppendNull()
			return
		}
		v.AppendInt(17_000 + rng.Int64N(2_030))
	})
	add("prelevement", dataset.TypeDatetime, dataset.RoleDate, func(v *dataset.Vec, i int) { v.AppendInt(1_600_000_000_000_000 + rng.Int64N(40_000_000_000_000)) })
	add("resultat", dataset.TypeDatetime, dataset.RoleFeature, func(v *dataset.Vec, i int) { v.AppendInt(1_600_000_000_000_000 + rng.Int64N(400_000_000_000_000)) })
	for j := range 8 {
		add("bio_"+strconv.Itoa(j), dataset.TypeFloat, dataset.RoleFeature, func(v *dataset.Vec, i int) {
			if rng.IntN(20) == 0 {
				v.AppendNull()
				return
			}
			v.AppendFloat(math.Exp(rng.NormFloat64()*0.5 + float64(j)))
		})
	}
	add("poids", dataset.TypeFloat, dataset.RoleSensitive, func(v *dataset.Vec, i int) { v.AppendFloat(math.Round((70+rng.NormFloat64()*15)*10) / 10) })
	add("taille", dataset.TypeFloat, dataset.RoleFeature, func(v *dataset.Vec, i int) { v.AppendFloat(170 + rng.NormFloat64()*10) })
	add("gravite", dataset.TypeInteger, dataset.RoleTarget, func(v *dataset.Vec, i int) { v.AppendInt(int64(rng.IntN(5))) })
	add("nb_sejours", dataset.TypeInteger, dataset.RoleFeature, func(v *dataset.Vec, i int) { v.AppendInt(int64(rng.IntN(12))) })
	add("duree", dataset.TypeInteger, dataset.RoleFeature, func(v *dataset.Vec, i int) { v.AppendInt(int64(rng.ExpFloat64() * 6)) })
	add("dose", dataset.TypeInteger, dataset.RoleFeature, func(v *dataset.Vec, i int) { v.AppendInt(rng.Int64N(1_000_000)) })
	add("diagnostic", dataset.TypeString, dataset.RoleSensitive, func(v *dataset.Vec, i int) { v.AppendString(codes[int(rng.ExpFloat64()*200)%len(codes)]) })
	add("service", dataset.TypeString, dataset.RoleOther, func(v *dataset.Vec, i int) {
		v.AppendString([]string{"cardio", "pneumo", "neuro", "urgences", "rea"}[rng.IntN(5)])
	})
	add("diabete", dataset.TypeBoolean, dataset.RoleFeature, func(v *dataset.Vec, i int) { v.AppendInt(int64(rng.IntN(7) / 6)) })
	add("tabac", dataset.TypeBoolean, dataset.RoleFeature, func(v *dataset.Vec, i int) {
		if rng.IntN(10) == 0 {
			v.AppendNull()
			return
		}
		v.AppendInt(int64(rng.IntN(3) / 2))
	})
	add("deces", dataset.TypeBoolean, dataset.RoleTarget, func(v *dataset.Vec, i int) { v.AppendInt(int64(rng.IntN(20) / 19)) })
	return f
}

// BenchmarkProfile profiles 1,000,000 rows × 30 columns of mixed types
// and roles. Run with -cpu 1 for one core:
//
//	go test ./internal/dataset/profile -run '^$' -bench Profile -cpu 1
func BenchmarkProfile(b *testing.B) {
	f := benchFrame(1_000_000, 1)
	if len(f.Columns) != 30 {
		b.Fatalf("%d columns", len(f.Columns))
	}
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if _, err := Of(f, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time (all threads, GC included): the wall time alone misleads on
	// a shared machine.
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// Command gen writes the synthetic CSV of the dataset benchmark: a hospital
// extract of -rows rows and 30 columns (an id, 9 integers, 10 floats, 4
// dates, 6 strings; about 4% of the cells missing), the same for the same
// -seed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

func main() {
	rows := flag.Int("rows", 1_000_000, "number of rows")
	seed := flag.Uint64("seed", 1, "random seed")
	out := flag.String("out", "", "output file (default: standard output)")
	flag.Parse()
	f := os.Stdout
	if *out != "" {
		var err error
		if f, err = os.Create(*out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := write(w, *rows, *seed); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

var (
	services = []string{"cardiologie", "pneumologie", "neurologie", "réanimation", "urgences", "gériatrie", "oncologie",
		"néphrologie", "hématologie", "chirurgie digestive", "orthopédie", "pédiatrie", "maternité", "psychiatrie",
		"dermatologie", "endocrinologie", "gastro-entérologie", "rhumatologie", "infectiologie", "médecine interne"}
	modes   = []string{"domicile", "SSR", "EHPAD", "transfert", "décès", "HAD"}
	letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

func write(w *bufio.Writer, rows int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 0x68796769))
	var header []byte
	header = append(header, "id"...)
	for i := 1; i <= 9; i++ {
		header = fmt.Appendf(header, ",int_%d", i)
	}
	for i := 1; i <= 10; i++ {
		header = fmt.Appendf(header, ",float_%d", i)
	}
	for i := 1; i <= 4; i++ {
		header = fmt.Appendf(header, ",date_%d", i)
	}
	header = append(header, ",sexe,service,cim10,mode_sortie,code_postal,commentaire\n"...)
	if _, err := w.Write(header); err != nil {
		return err
	}
	base := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	missing := func() bool { return r.IntN(25) == 0 } // 4 %
	var b []byte
	for id := 1; id <= rows; id++ {
		b = strconv.AppendInt(b[:0], int64(id), 10)
		for i := 1; i <= 9; i++ {
			b = append(b, ',')
			if missing() {
				continue
			}
			switch i {
			case 1: // age
				b = strconv.AppendInt(b, int64(r.IntN(100)), 10)
			case 2: // length of stay
				b = strconv.AppendInt(b, int64(r.ExpFloat64()*6), 10)
			default:
				b = strconv.AppendInt(b, int64(r.IntN(10000*i))-int64(1000*i), 10)
			}
		}
		for i := 1; i <= 10; i++ {
			b = append(b, ',')
			if missing() {
				continue
			}
			x := r.NormFloat64()*float64(i)*3 + float64(10*i)
			b = strconv.AppendFloat(b, x, 'f', 1+i%3, 64)
		}
		for i := 1; i <= 4; i++ {
			b = append(b, ',')
			if missing() {
				continue
			}
			b = base.AddDate(0, 0, r.IntN(3650)).AppendFormat(b, time.DateOnly)
		}
		b = append(b, ',')
		if !missing() {
			b = append(b, "MF"[r.IntN(2)])
		}
		b = append(b, ',')
		if !missing() {
			b = append(b, services[r.IntN(len(services))]...)
		}
		b = append(b, ',')
		if !missing() {
			b = append(b, letters[r.IntN(26)])
			b = strconv.AppendInt(b, int64(10+r.IntN(90)), 10)
			b = append(b, '.')
			b = strconv.AppendInt(b, int64(r.IntN(10)), 10)
		}
		b = append(b, ',')
		if !missing() {
			b = append(b, modes[r.IntN(len(modes))]...)
		}
		b = append(b, ',')
		if !missing() {
			b = fmt.Appendf(b, "%05d", 1000+r.IntN(94000))
		}
		b = append(b, ',')
		if !missing() {
			switch r.IntN(3) {
			case 0:
				b = append(b, "RAS"...)
			case 1:
				b = fmt.Appendf(b, "\"contrôle à %d mois, bilan \"\"normal\"\"\"", 1+r.IntN(12))
			default:
				b = fmt.Appendf(b, "suivi %x", r.Uint32())
			}
		}
		b = append(b, '\n')
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

package dataset_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/keys"
	"github.com/hygie-health/hygie/internal/project"
)

// writeExtract writes a synthetic hospital extract like bench/dataset's: an
// id, 9 integers, 10 floats, 4 dates, 6 strings (one of them free text of
// textBytes bytes), 4 % missing.
func writeExtract(w io.Writer, rows int, textBytes int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	bw.WriteString("id")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(bw, ",int_%d", i)
	}
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(bw, ",float_%d", i)
	}
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(bw, ",date_%d", i)
	}
	bw.WriteString(",sexe,service,cim10,mode_sortie,code_postal,commentaire\n")
	services := []string{"cardiologie", "réanimation", "urgences", "gériatrie", "oncologie", "pédiatrie"}
	base := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	missing := func() bool { return r.IntN(25) == 0 }
	text := make([]byte, textBytes)
	var b []byte
	for id := 1; id <= rows; id++ {
		b = strconv.AppendInt(b[:0], int64(id), 10)
		for i := 1; i <= 9; i++ {
			b = append(b, ',')
			if !missing() {
				b = strconv.AppendInt(b, int64(r.IntN(10000*i))-int64(1000*i), 10)
			}
		}
		for i := 1; i <= 10; i++ {
			b = append(b, ',')
			if !missing() {
				b = strconv.AppendFloat(b, r.NormFloat64()*float64(i)*3+float64(10*i), 'f', 1+i%3, 64)
			}
		}
		for range 4 {
			b = append(b, ',')
			if !missing() {
				b = base.AddDate(0, 0, r.IntN(3650)).AppendFormat(b, time.DateOnly)
			}
		}
		b = append(b, ',', "MF"[r.IntN(2)], ',')
		b = append(b, services[r.IntN(len(services))]...)
		b = fmt.Appendf(b, ",%c%02d.%d,domicile,%05d,", 'A'+r.IntN(26), r.IntN(100), r.IntN(10), 1000+r.IntN(94000))
		if !missing() {
			for i := range text {
				text[i] = 'a' + byte(r.IntN(26))
				if i%7 == 6 {
					text[i] = ' '
				}
			}
			b = append(b, '"')
			b = append(b, text...)
			b = append(b, "\"\"\n\"\""...) // a quoted quote, a newline
			b = append(b, '"')
		}
		b = append(b, '\n')
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// fileService is a dataset service on SQLite and a local blob store.
func fileService(tb testing.TB) (*dataset.Service, context.Context) {
	tb.Helper()
	d := dbtest.SQLite(tb)
	blobs, err := blob.NewLocal(filepath.Join(tb.TempDir(), "blobs"))
	if err != nil {
		tb.Fatal(err)
	}
	kr, _ := keys.New(keys.Random())
	a := audit.New(d)
	admin := audit.WithActor(context.Background(), "admin")
	if _, err := project.NewService(d, a).Create(admin, "proj", "", ""); err != nil {
		tb.Fatal(err)
	}
	u, err := auth.NewService(d, a).CreateUser(admin, "sophie", "", "", false)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := auth.WithPrincipal(context.Background(), &auth.Principal{UserID: u.ID, Username: "sophie", Roles: map[string][]auth.Role{"proj": {auth.RoleSteward}}})
	return dataset.NewService(d, blobs, kr, a), ctx
}

// peakHeap samples the live heap until stop is called, and returns the
// highest value seen.
func peakHeap() (stop func() uint64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// An import streams: its memory does not grow with the number of rows, and
// stays well below the size of the file.
func TestImportMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and imports files of 20 and 80 MB")
	}
	ds, ctx := fileService(t)
	peaks := map[int]uint64{}
	for _, rows := range []int{50_000, 200_000} {
		path := filepath.Join(t.TempDir(), "extract.csv")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeExtract(f, rows, 250); err != nil {
			t.Fatal(err)
		}
		f.Close()
		fi, _ := os.Stat(path)
		for _, level := range []dataset.Level{dataset.Pseudonymized, dataset.Identifying} {
			stop := peakHeap()
			res, err := ds.Import(ctx, dataset.File(path, ""), dataset.ImportOptions{Project: "proj", Dataset: fmt.Sprintf("x%d-%s", rows, level), Level: level})
			peak := stop()
			if err != nil {
				t.Fatal(err)
			}
			if res.Version.Rows != rows {
				t.Fatalf("%d rows, want %d", res.Version.Rows, rows)
			}
			t.Logf("%d rows, %s: file %d MB, peak live heap %d MB", rows, level, fi.Size()>>20, peak>>20)
			peaks[rows] = max(peaks[rows], peak)
		}
		if rows == 200_000 && peaks[rows] > uint64(fi.Size())*3/4 {
			t.Errorf("peak live heap %d MB for a %d MB file", peaks[rows]>>20, fi.Size()>>20)
		}
	}
	if peaks[200_000] > peaks[50_000]*3/2+(4<<20) {
		t.Errorf("peak live heap grows with the rows: %d MB for 50,000, %d MB for 200,000", peaks[50_000]>>20, peaks[200_000]>>20)
	}
}

// BenchmarkImportCSV imports a 100,000-row, 30-column extract (about 20 MB)
// into a version: sniffing, type inference, Parquet encoding, hashing and
// storage. Compare with pandas: bench/dataset/compare.sh.
func BenchmarkImportCSV(b *testing.B) {
	for _, level := range []dataset.Level{dataset.Pseudonymized, dataset.Identifying} {
		b.Run(string(level), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "extract.csv")
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := writeExtract(f, 100_000, 20); err != nil {
				b.Fatal(err)
			}
			f.Close()
			fi, _ := os.Stat(path)
			ds, ctx := fileService(b)
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// A new dataset each time: identical content would still be
				// encoded in full, but let every run store its version.
				i++
				if _, err := ds.Import(ctx, dataset.File(path, ""), dataset.ImportOptions{Project: "proj", Dataset: fmt.Sprintf("b%d", i), Level: level}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

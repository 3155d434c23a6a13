package cli

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/privacy/deid"
	"github.com/hygie-health/hygie/internal/privacy/deid/synth"
	"github.com/hygie-health/hygie/internal/track"
	"github.com/hygie-health/hygie/internal/train"
)

// deidCmd is `hygie deid`: free-text de-identification of JSONL files. It
// needs no database.
func (e *env) deidCmd() *cobra.Command {
	var (
		in, out, mode, modelPath, keyFile string
		maxBytes, workers                 int
		progress                          bool
	)
	cmd := &cobra.Command{
		Use:   "deid",
		Short: "De-identify French clinical free text (JSONL in, JSONL out)",
		Long: `De-identify French clinical free text on a plain CPU: names, first names,
dates, birth dates, addresses, towns, postal codes, phone numbers, e-mails,
social security numbers, patient and stay numbers, care facilities.

Each input line {"id": "...", "text": "..."} gives one output line
{"id": "...", "text": "...", "entities": [{"start", "end", "label", "text"}]}
in the same order; offsets count Unicode code points into the INPUT text.
Modes: mask ("[NOM]"), surrogate (realistic consistent replacements), tag
(text unchanged, entities only). Use - for standard input or output.

Fail closed: a malformed line, invalid UTF-8 or a text over --max-bytes is
reported on standard error by line number (and id), produces no output line,
and the command exits with status 1 after processing the other lines.`,
		Example: `  hygie deid --in notes.jsonl --out notes.deid.jsonl
  hygie deid --in - --out - --mode tag < notes.jsonl
  hygie deid eval --gold gold.jsonl --output json
  hygie deid synth --split heldout --n 500 --out heldout.jsonl`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in == "" || out == "" {
				return usageError{errors.New("deid: --in and --out are required (- for stdin/stdout)")}
			}
			m, err := deid.ParseMode(mode)
			if err != nil {
				return usageError{err}
			}
			if maxBytes <= 0 {
				return usageError{errors.New("deid: --max-bytes must be positive")}
			}
			if in != "-" && out != "-" && sameFile(in, out) {
				return usageError{errors.New("deid: --in and --out are the same file")}
			}
			d, err := e.deidentifier(modelPath)
			if err != nil {
				return err
			}
			opt := deid.BatchOptions{Mode: m, MaxBytes: maxBytes, Workers: workers}
			if m == deid.Surrogate && keyFile != "" {
				key, err := readKey(keyFile)
				if err != nil {
					return err
				}
				opt.Surrogates = deid.NewSurrogates(key)
			}
			var r io.Reader = e.stdin
			var size int64 = -1
			if in != "-" {
				f, err := os.Open(in)
				if err != nil {
					return fmt.Errorf("deid: %w", err)
				}
				defer f.Close()
				if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
					size = st.Size()
				}
				r = f
			}
			var w io.Writer = e.stdout
			var outFile *os.File
			if out != "-" {
				f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
				if err != nil {
					return fmt.Errorf("deid: %w", err)
				}
				outFile = f
				w = f
			}
			var bar *progressbar.ProgressBar
			if progress || isTerminal(e.stderr) {
				bar = progressbar.NewOptions64(size,
					progressbar.OptionSetWriter(e.stderr),
					progressbar.OptionSetDescription("de-identifying"),
					progressbar.OptionShowBytes(true),
					progressbar.OptionThrottle(200*time.Millisecond),
					progressbar.OptionSetRenderBlankState(true),
				)
				opt.Progress = func(n int64) { bar.Set64(n) }
			}
			rejected := 0
			stats, err := d.Process(cmd.Context(), r, w, opt, func(le deid.LineError) {
				rejected++
				if bar != nil {
					fmt.Fprintln(e.stderr)
				}
				fmt.Fprintf(e.stderr, "hygie: deid: %s\n", le.Error())
			})
			if bar != nil {
				bar.Finish()
				fmt.Fprintln(e.stderr)
			}
			if outFile != nil {
				if cerr := outFile.Close(); cerr != nil && err == nil {
					err = cerr
				}
			}
			if err != nil {
				return fmt.Errorf("deid: %w", err)
			}
			if out != "-" {
				if err := e.print(stats, func(w io.Writer) {
					fmt.Fprintf(w, "de-identified %d document(s), %d rejected, %s of text\n", stats.Documents, stats.Rejected, humanBytes(stats.Bytes))
				}); err != nil {
					return err
				}
			}
			if rejected > 0 {
				return fmt.Errorf("deid: %d input line(s) rejected; they were not written", rejected)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in, "in", "", "input JSONL file, - for standard input")
	f.StringVar(&out, "out", "", "output JSONL file, - for standard output")
	f.StringVar(&mode, "mode", "mask", "mask, surrogate or tag")
	f.StringVar(&modelPath, "model", "", "sequence-labelling model (default: the embedded one)")
	f.IntVar(&maxBytes, "max-bytes", deid.DefaultMaxBytes, "largest text accepted per document, in bytes")
	f.IntVar(&workers, "workers", 0, "documents processed in parallel (default: all cores)")
	f.BoolVar(&progress, "progress", false, "show a progress bar on standard error even when it is not a terminal")
	f.StringVar(&keyFile, "surrogate-key-file", "", "file holding the secret key of the surrogates (hex or raw); default: a random key per run")
	cmd.AddCommand(e.deidEvalCmd(), e.deidTrainCmd(), e.deidSynthCmd())
	return cmd
}

func (e *env) deidentifier(modelPath string) (*deid.Deidentifier, error) {
	var m *deid.Model
	if modelPath != "" {
		f, err := os.Open(modelPath)
		if err != nil {
			return nil, fmt.Errorf("deid: %w", err)
		}
		defer f.Close()
		if m, err = deid.ReadModel(bufio.NewReader(f)); err != nil {
			return nil, err
		}
	}
	return deid.New(m)
}

func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("deid: surrogate key: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) >= 16 {
		return k, nil
	}
	if len(b) < 16 {
		return nil, errors.New("deid: surrogate key: want at least 16 bytes")
	}
	return b, nil
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// readDocs reads annotated JSONL (id, text, entities), rejecting bad lines
// by number only.
func readDocs(path string, stdin io.Reader, maxBytes int) ([]deid.Document, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("deid: %w", err)
		}
		defer f.Close()
		r = f
	}
	return deid.ReadDocuments(r, path, maxBytes)
}

func (e *env) deidEvalCmd() *cobra.Command {
	var gold, pred, modelPath string
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Score de-identification against a gold JSONL file",
		Long: `Score predicted entities against gold ones: exact-span precision, recall and
F1 per label and micro-averaged, the share of gold identifying characters
left unmasked (leak), and the share of masked characters that were not
identifying (over-masking). Without --pred, the de-identifier runs on the
gold texts.`,
		Example: `  hygie deid eval --gold /data/deid/sample.jsonl
  hygie deid eval --gold gold.jsonl --pred out.jsonl --output json`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if gold == "" {
				return usageError{errors.New("deid eval: --gold is required")}
			}
			golds, err := readDocs(gold, e.stdin, 64<<20)
			if err != nil {
				return err
			}
			var ev deid.Evaluator
			if pred != "" {
				preds, err := readDocs(pred, e.stdin, 64<<20)
				if err != nil {
					return err
				}
				byID := make(map[string]deid.Document, len(preds))
				for _, p := range preds {
					byID[p.ID] = p
				}
				for _, g := range golds {
					p, ok := byID[g.ID]
					if !ok {
						return fmt.Errorf("deid eval: no prediction for id %s", g.ID)
					}
					ev.Add(g.Entities, p.Entities, utf8.RuneCountInString(g.Text))
				}
			} else {
				d, err := e.deidentifier(modelPath)
				if err != nil {
					return err
				}
				for _, g := range golds {
					ev.Add(g.Entities, d.Detect(g.Text), utf8.RuneCountInString(g.Text))
				}
			}
			r := ev.Report()
			return e.print(r, func(w io.Writer) { printReport(w, r) })
		},
	}
	cmd.Flags().StringVar(&gold, "gold", "", "gold JSONL: id, text, entities")
	cmd.Flags().StringVar(&pred, "pred", "", "predicted JSONL (output of hygie deid); default: run the de-identifier")
	cmd.Flags().StringVar(&modelPath, "model", "", "model to evaluate when --pred is not given")
	return cmd
}

func printReport(w io.Writer, r deid.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "LABEL\tPRECISION\tRECALL\tF1\tTP\tFP\tFN\t")
	for _, l := range r.SortedLabels() {
		s := r.Labels[l]
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\t%d\t%d\t%d\t\n", l, s.Precision, s.Recall, s.F1, s.TP, s.FP, s.FN)
	}
	m := r.Micro
	fmt.Fprintf(tw, "micro\t%.4f\t%.4f\t%.4f\t%d\t%d\t%d\t\n", m.Precision, m.Recall, m.F1, m.TP, m.FP, m.FN)
	tw.Flush()
	fmt.Fprintf(w, "documents: %d\nleak (gold identifying characters left unmasked): %.4f%% (%d of %d)\nover-masking (masked characters not identifying): %.4f%% (%d of %d)\n",
		r.Documents, 100*r.Leak, r.LeakedChars, r.GoldChars, 100*r.OverMask, r.OverMaskedChar, r.MaskedChars)
}

func (e *env) deidTrainCmd() *cobra.Command {
	var in, out, project, eval, experiment, gold string
	var docs, epochs int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train the sequence-labelling model (synthetic corpus plus your annotated JSONL)",
		Long: `Train the statistical layer of the de-identifier: an averaged perceptron over
BIO tags, on the reproducible synthetic corpus of the default recipe plus,
optionally, annotated documents in the output format of hygie deid (id, text,
entities). The embedded default model is this command with no --in (also run
by 'go generate ./internal/privacy/deid').

With -p PROJECT, training runs as a tracked job of that project (local or
Slurm executor): the mislabelled segments per epoch, the span precision,
recall and F1 (micro and per label), the leak and over-masking rates on
--eval (default: the synthetic held-out corpus) are the run's metrics, and
the model and the evaluation report its artifacts. --in and --eval must be
readable where the job runs.`,
		Example: `  hygie deid train --out model.bin.gz
  hygie deid train --in our-gold.jsonl --out model.bin.gz
  hygie deid train -p notes-deid --as marc --in gold-train.jsonl --eval gold-test.jsonl
  hygie deid train -p notes-deid --as sophie --dataset deid_notes_gold@1
  hygie deid --in notes.jsonl --out out.jsonl --model model.bin.gz`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if project != "" {
				if out != "" {
					return usageError{errors.New("deid train: with -p the model is the run's artifact: drop --out")}
				}
				spec := train.DeidSpec{Project: project, In: abs(in), Dataset: gold, Eval: abs(eval), Docs: docs, Epochs: epochs, Seed: seed}
				return e.builtinJob(cmd, project, auth.PermRunWrite, "de-identifier training", func(a *app.App, ctx context.Context, req jobs.Request) (jobs.Job, error) {
					req.Experiment = experiment
					return train.SubmitDeid(ctx, a.Jobs, a.Executable, spec, req)
				}, func(a *app.App, ctx context.Context, ended jobs.Job, run track.Run) error {
					return e.print(map[string]any{"job": ended, "run": run}, func(w io.Writer) {
						m := run.Metrics
						fmt.Fprintf(w, "run %d: span precision %.4f, recall %.4f, F1 %.4f; leak %.4f%%; model artifact %s\n", run.ID,
							m["span_precision"], m["span_recall"], m["span_f1"], 100*m["leak"], train.DeidModelArtifact)
					})
				})
			}
			if out == "" {
				return usageError{errors.New("deid train: --out (or -p PROJECT to train as a job) is required")}
			}
			var extra []deid.Document
			if in != "" {
				var err error
				if extra, err = readDocs(in, e.stdin, 64<<20); err != nil {
					return err
				}
			}
			r := synth.DefaultRecipe
			if cmd.Flags().Changed("synthetic") {
				r.Docs = docs
			}
			if cmd.Flags().Changed("epochs") {
				r.Epochs = epochs
			}
			if cmd.Flags().Changed("seed") {
				r.Seed = seed
			}
			if r.Docs == 0 && len(extra) == 0 {
				return usageError{errors.New("deid train: nothing to train on")}
			}
			m, err := synth.TrainModel(r, extra, func(ep, errs, segs int) {
				fmt.Fprintf(e.stderr, "epoch %d: %d of %d segments mislabelled\n", ep, errs, segs)
			})
			if err != nil {
				return err
			}
			f, err := os.Create(out)
			if err != nil {
				return fmt.Errorf("deid train: %w", err)
			}
			if _, err := m.WriteTo(f); err != nil {
				f.Close()
				return fmt.Errorf("deid train: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("deid train: %w", err)
			}
			res := map[string]any{"model": out, "features": m.Features(), "synthetic_documents": r.Docs, "extra_documents": len(extra), "epochs": r.Epochs, "seed": r.Seed}
			return e.print(res, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s: %d features (%d synthetic + %d annotated documents, %d epochs)\n", out, m.Features(), r.Docs, len(extra), r.Epochs)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in, "in", "", "annotated JSONL to add to the synthetic corpus")
	f.StringVarP(&project, "project", "p", "", "train as a tracked job of this project")
	f.StringVar(&eval, "eval", "", "with -p: gold JSONL to evaluate on (default: the synthetic held-out corpus)")
	f.StringVar(&gold, "dataset", "", "with -p: a gold dataset version NAME@V (hygie annotate export --dataset) to add to the corpus")
	f.StringVar(&experiment, "experiment", "", "with -p: experiment of the run (default: default)")
	f.StringVar(&out, "out", "", "model file to write")
	f.IntVar(&docs, "synthetic", synth.DefaultRecipe.Docs, "synthetic training documents (0: only --in)")
	f.IntVar(&epochs, "epochs", synth.DefaultRecipe.Epochs, "training epochs")
	f.Uint64Var(&seed, "seed", synth.DefaultRecipe.Seed, "seed of the synthetic corpus and of the training")
	return cmd
}

func (e *env) deidSynthCmd() *cobra.Command {
	var out, split string
	var n int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "synth",
		Short: "Write a synthetic annotated French clinical corpus (JSONL)",
		Long: `Generate fictitious, annotated French clinical documents. The train split feeds
the default model; the heldout split uses other template families and
disjoint name, town, street and facility lists, to measure generalisation.`,
		Example: `  hygie deid synth --split heldout --n 1000 --seed 7 --out heldout.jsonl
  hygie deid eval --gold heldout.jsonl`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			var sp synth.Split
			switch split {
			case "train":
				sp = synth.Train
			case "heldout":
				sp = synth.HeldOut
			default:
				return usageError{fmt.Errorf("deid synth: --split: want train or heldout, got %q", split)}
			}
			if n < 0 {
				return usageError{errors.New("deid synth: --n must not be negative")}
			}
			var w io.Writer = e.stdout
			if out != "-" && out != "" {
				f, err := os.Create(out)
				if err != nil {
					return fmt.Errorf("deid synth: %w", err)
				}
				defer f.Close()
				w = f
			}
			bw := bufio.NewWriter(w)
			enc := json.NewEncoder(bw)
			enc.SetEscapeHTML(false)
			g := synth.NewGenerator(sp, seed)
			for i := 0; i < n; i++ {
				if err := enc.Encode(g.Next()); err != nil {
					return err
				}
			}
			return bw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "-", "output JSONL file, - for standard output")
	f.StringVar(&split, "split", "heldout", "train or heldout")
	f.IntVar(&n, "n", 500, "number of documents")
	f.Uint64Var(&seed, "seed", 1, "seed")
	return cmd
}

// abs makes a path absolute (jobs run in another working directory); "" stays "".
func abs(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

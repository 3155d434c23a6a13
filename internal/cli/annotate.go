package cli

// hygie annotate: annotation projects from the command line — create,
// import tasks (JSONL, dataset version, Label Studio), assign, the
// annotator's queue and submissions, agreement, adjudication and exports.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/deid"
)

func (e *env) annotateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "annotate",
		Short: "Annotation projects: tasks, assignment, agreement, adjudication, gold data",
		Long: `Annotation projects put texts or table rows in front of clinicians: span
labelling (for example the de-identification labels), text classification
(single or multiple choice) or row labelling. Each task goes to N
annotators (default 2); agreement is measured (Cohen, Fleiss, Krippendorff;
span F1 and unitizing alpha); an adjudicator resolves the tasks and the
result is gold data, exported as JSONL, CoNLL, Label Studio JSON or a new
dataset version. See docs/annotation.md.`,
	}
	cmd.AddCommand(e.annotateCreateCmd(), e.annotateImportCmd(), e.annotateAssignCmd(), e.annotateQueueCmd(), e.annotateSubmitCmd(),
		e.annotateProgressCmd(), e.annotateAgreementCmd(), e.annotateAdjudicateCmd(), e.annotateExportCmd(),
		e.annotateLSImportCmd(), e.annotateLSExportCmd())
	return cmd
}

func annotateSvc(a *app.App) *annotate.Service { return annotate.NewService(a.DB, a.Audit, a.Datasets) }

func readInput(path string, stdin io.Reader) ([]byte, error) {
	if path == "" {
		return nil, usageError{errors.New("--in is required")}
	}
	if path == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(path)
}

func writeOutput(path string, stdout io.Writer, b []byte) error {
	if path == "" || path == "-" {
		_, err := stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func (e *env) annotateCreateCmd() *cobra.Command {
	var project, kind, labels, guidelines string
	var overlap int
	cmd := &cobra.Command{
		Use:   "create NAME -p PROJECT --kind KIND --labels deid|FILE.json",
		Short: "Create an annotation project (label schema, guidelines, overlap)",
		Long: `--labels is "deid" (the de-identification labels with colours and shortcuts)
or a JSON file: [{"name": "yes", "color": "#00aa00", "shortcut": "y"}, ...].
--guidelines is a Markdown file shown beside every task.`,
		Example: `  hygie annotate create deid-notes -p notes --as marc --kind span --labels deid --guidelines guide.md
  hygie annotate create triage -p notes --as marc --kind classification --labels labels.json --overlap 3`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := annotate.Project{Project: project, Name: args[0], Kind: kind, Overlap: overlap}
			switch labels {
			case "":
				return usageError{errors.New("--labels is required (deid or a JSON file)")}
			case "deid":
				p.Labels = annotate.DeidSchema()
			default:
				b, err := os.ReadFile(labels)
				if err != nil {
					return err
				}
				if err := json.Unmarshal(b, &p.Labels); err != nil {
					return usageError{fmt.Errorf("%s: want a JSON list of {name, color, shortcut}", labels)}
				}
			}
			if guidelines != "" {
				b, err := os.ReadFile(guidelines)
				if err != nil {
					return err
				}
				p.Guidelines = string(b)
			}
			return e.withProject(cmd, project, auth.PermAnnotationManage, func(a *app.App, ctx context.Context) error {
				p, err := annotateSvc(a).Create(ctx, p)
				if err != nil {
					return err
				}
				return e.print(p, func(w io.Writer) {
					fmt.Fprintf(w, "created annotation project %s (%s, %d labels, overlap %d)\n", p.Name, p.Kind, len(p.Labels), p.Overlap)
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&project, "project", "p", "", "project name (required)")
	f.StringVar(&kind, "kind", annotate.KindSpan, "span, classification, multilabel or rows")
	f.StringVar(&labels, "labels", "", `label schema: "deid" or a JSON file`)
	f.StringVar(&guidelines, "guidelines", "", "guidelines (Markdown file)")
	f.IntVar(&overlap, "overlap", annotate.DefaultOverlap, "annotators per task")
	return cmd
}

func (e *env) annotateImportCmd() *cobra.Command {
	var project, in, ds, column, pre, feedback string
	cmd := &cobra.Command{
		Use:   "import NAME -p PROJECT (--in FILE.jsonl | --dataset NAME@VERSION [--column TEXT] | --feedback FILE.json)",
		Short: "Add tasks from JSONL (id, text, entities), a dataset version or flagged predictions",
		Long: `JSONL: one {"id", "text", "entities"} object per line (the de-identification
format); entities become suggestions, never answers. --dataset reads a
version: one task per row of --column (a text column), or one row task per
row without --column (rows projects). --feedback reads predictions that
clinicians flagged incorrect: [{"prediction_id", "text" or "input",
"model", "predicted"}], the model's answer becoming a suggestion.
--preannotate deid runs hygie's de-identifier and stores its entities as
suggestions.`,
		Example: `  hygie annotate import deid-notes -p notes --as marc --in notes.jsonl --preannotate deid
  hygie annotate import deid-notes -p notes --as sophie --dataset reports@2 --column text`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			given := 0
			for _, v := range []string{in, ds, feedback} {
				if v != "" {
					given++
				}
			}
			if given != 1 {
				return usageError{errors.New("give one of --in, --dataset or --feedback")}
			}
			if pre != "" && pre != "deid" {
				return usageError{fmt.Errorf("--preannotate %q: want deid", pre)}
			}
			return e.withProject(cmd, project, auth.PermAnnotationManage, func(a *app.App, ctx context.Context) error {
				svc := annotateSvc(a)
				var tasks []annotate.NewTask
				if feedback != "" {
					b, err := readInput(feedback, e.stdin)
					if err != nil {
						return err
					}
					var fs []annotate.Flagged
					if err := json.Unmarshal(b, &fs); err != nil {
						return usageError{fmt.Errorf("%s: want a JSON list of {prediction_id, text or input, model, predicted}", feedback)}
					}
					tasks = annotate.FeedbackTasks(fs)
				} else if in != "" {
					b, err := readInput(in, e.stdin)
					if err != nil {
						return err
					}
					if tasks, err = annotate.ReadJSONL(bytes.NewReader(b)); err != nil {
						return err
					}
				} else {
					name, ver, err := parseRef(ds)
					if err != nil {
						return err
					}
					if tasks, err = svc.DatasetTasks(ctx, project, name, ver, column); err != nil {
						return err
					}
				}
				return e.addTasks(ctx, svc, project, args[0], tasks, pre)
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&project, "project", "p", "", "project name (required)")
	f.StringVar(&in, "in", "", "JSONL file (- for standard input)")
	f.StringVar(&ds, "dataset", "", "dataset version NAME@VERSION (latest without @)")
	f.StringVar(&column, "column", "", "with --dataset: the text column (none: row tasks)")
	f.StringVar(&pre, "preannotate", "", `"deid": suggestions from hygie's de-identifier`)
	f.StringVar(&feedback, "feedback", "", "JSON list of predictions flagged incorrect")
	return cmd
}

func (e *env) addTasks(ctx context.Context, svc *annotate.Service, project, name string, tasks []annotate.NewTask, pre string) error {
	if pre == "deid" {
		d, err := deid.New(nil)
		if err != nil {
			return err
		}
		annotate.PreAnnotate(tasks, d)
	}
	res, err := svc.AddTasks(ctx, project, name, tasks)
	if err != nil {
		return err
	}
	return e.print(res, func(w io.Writer) {
		fmt.Fprintf(w, "added %d tasks (%d already there", res.Added, res.Skipped)
		if res.Annotations > 0 {
			fmt.Fprintf(w, ", %d annotations imported", res.Annotations)
		}
		fmt.Fprintln(w, ")")
	})
}

func (e *env) annotateAssignCmd() *cobra.Command {
	var project string
	var to []string
	cmd := &cobra.Command{
		Use:     "assign NAME -p PROJECT --to USER,USER,...",
		Short:   "Assign tasks to annotators: overlap N per task, balanced, never twice to the same person",
		Example: "  hygie annotate assign deid-notes -p notes --as marc --to alice,bruno,chloe",
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(to) == 0 {
				return usageError{errors.New("--to is required")}
			}
			return e.withProject(cmd, project, auth.PermAnnotationManage, func(a *app.App, ctx context.Context) error {
				res, err := annotateSvc(a).Assign(ctx, project, args[0], to)
				if err != nil {
					return err
				}
				return e.print(res, func(w io.Writer) {
					fmt.Fprintf(w, "assigned %d tasks", res.Assigned)
					if res.Short > 0 {
						fmt.Fprintf(w, " (%d tasks short of annotators: add people)", res.Short)
					}
					fmt.Fprintln(w)
					for _, u := range sortedNames(res.Load) {
						fmt.Fprintf(w, "  %s: %d\n", u, res.Load[u])
					}
				})
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.Flags().StringSliceVar(&to, "to", nil, "annotators (comma-separated)")
	return cmd
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (e *env) annotateQueueCmd() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:     "queue NAME -p PROJECT --as ANNOTATOR",
		Short:   "The tasks waiting for you (with --output json: texts, suggestions and guidelines)",
		Example: "  hygie annotate queue deid-notes -p notes --as alice --output json",
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withProject(cmd, project, auth.PermAnnotationWrite, func(a *app.App, ctx context.Context) error {
				q, err := annotateSvc(a).Queue(ctx, project, args[0])
				if err != nil {
					return err
				}
				return e.print(q, func(w io.Writer) {
					fmt.Fprintf(w, "%d tasks waiting\n", len(q))
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "TASK\tREF\tSOURCE\tSUGGESTIONS")
					for _, t := range q {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%d\n", t.ID, t.Ref, t.Source, len(t.Predictions))
					}
					tw.Flush()
				})
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	return cmd
}

// answerLine is a line of an answers file: the task (id or reference) and
// a result.
type answerLine struct {
	Task int64  `json:"task"`
	Ref  string `json:"ref"`
	annotate.Result
	Skip string `json:"skip"` // a reason: skip the task
}

func readAnswers(b []byte) ([]answerLine, error) {
	var out []answerLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), annotate.MaxLine)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var a answerLine
		if err := json.Unmarshal(line, &a); err != nil {
			return nil, usageError{fmt.Errorf("answers line %d: want {\"task\" or \"ref\", \"spans\" or \"choices\"}", n)}
		}
		if a.Task == 0 && a.Ref == "" {
			return nil, usageError{fmt.Errorf("answers line %d: no task nor ref", n)}
		}
		out = append(out, a)
	}
	return out, sc.Err()
}

// taskIDs maps references to task ids among ids.
func resolveTask(a answerLine, byRef map[string]int64) (int64, error) {
	if a.Task != 0 {
		return a.Task, nil
	}
	id, ok := byRef[a.Ref]
	if !ok {
		return 0, errs.NotFoundf("task %q is not among your tasks", a.Ref)
	}
	return id, nil
}

func (e *env) annotateSubmitCmd() *cobra.Command {
	var project, in string
	cmd := &cobra.Command{
		Use:   "submit NAME -p PROJECT --as ANNOTATOR --in ANSWERS.jsonl",
		Short: "Submit answers: one JSON line per task",
		Long: `Each line names a task by id ("task") or reference ("ref", among your queue)
and gives the answer: {"ref": "d1", "spans": [{"start": 6, "end": 11,
"label": "NOM"}]}, {"task": 3, "choices": ["yes"]}, or {"ref": "d2",
"skip": "reason"}. Offsets count characters (code points), end exclusive.
The first refused answer stops the command; the earlier ones are kept.`,
		Example: "  hygie annotate submit deid-notes -p notes --as alice --in alice.jsonl",
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readInput(in, e.stdin)
			if err != nil {
				return err
			}
			answers, err := readAnswers(b)
			if err != nil {
				return err
			}
			return e.withProject(cmd, project, auth.PermAnnotationWrite, func(a *app.App, ctx context.Context) error {
				svc := annotateSvc(a)
				q, err := svc.Queue(ctx, project, args[0])
				if err != nil {
					return err
				}
				byRef := map[string]int64{}
				for _, t := range q {
					byRef[t.Ref] = t.ID
				}
				n := 0
				for _, ans := range answers {
					id, err := resolveTask(ans, byRef)
					if err != nil {
						return err
					}
					if ans.Skip != "" {
						err = svc.Skip(ctx, project, args[0], id, ans.Skip)
					} else {
						err = svc.Submit(ctx, project, args[0], id, ans.Result)
					}
					if err != nil {
						return fmt.Errorf("task %d: %w", id, err)
					}
					n++
				}
				return e.print(map[string]any{"submitted": n}, func(w io.Writer) { fmt.Fprintf(w, "submitted %d answers\n", n) })
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.Flags().StringVar(&in, "in", "", "answers JSONL (- for standard input)")
	return cmd
}

func (e *env) annotateProgressCmd() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:     "progress NAME -p PROJECT",
		Short:   "Progress per annotator and for the project",
		Example: "  hygie annotate progress deid-notes -p notes --as marc",
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withProject(cmd, project, auth.PermAnnotationManage, func(a *app.App, ctx context.Context) error {
				p, err := annotateSvc(a).Progress(ctx, project, args[0])
				if err != nil {
					return err
				}
				return e.print(p, func(w io.Writer) {
					fmt.Fprintf(w, "%d tasks: %d assigned, %d complete, %d adjudicated\n", p.Tasks, p.Assigned, p.Complete, p.Adjudicated)
					for _, u := range sortedNames(p.Annotators) {
						c := p.Annotators[u]
						fmt.Fprintf(w, "  %s: %d done, %d skipped of %d\n", u, c.Done, c.Skipped, c.Assigned)
					}
				})
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	return cmd
}

func (e *env) annotateAgreementCmd() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:     "agreement NAME -p PROJECT",
		Short:   "Inter-annotator agreement, per pair, per label and overall, with warnings",
		Example: "  hygie annotate agreement deid-notes -p notes --as marc",
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withProject(cmd, project, auth.PermAnnotationManage, func(a *app.App, ctx context.Context) error {
				r, err := annotateSvc(a).Agreement(ctx, project, args[0])
				if err != nil {
					return err
				}
				return e.print(r, func(w io.Writer) { printAgreement(w, r) })
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	return cmd
}

func printAgreement(w io.Writer, r annotate.Report) {
	fmt.Fprintf(w, "%d items with two or more answers; annotators: %s\n", r.Items, strings.Join(r.Annotators, ", "))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if r.Kind == annotate.KindSpan {
		fmt.Fprintln(tw, "LABEL\tSPANS\tUNITIZING ALPHA")
		show := func(name string, f annotate.Figures) {
			fmt.Fprintf(tw, "%s\t%d\t%s\n", name, f.Spans, f.UnitizingAlpha)
		}
		show("(overall)", r.Overall)
		for _, l := range sortedNames(r.Labels) {
			if r.Labels[l].Spans > 0 {
				show(l, r.Labels[l])
			}
		}
		tw.Flush()
		fmt.Fprintln(tw, "PAIR\tITEMS\tEXACT F1\tOVERLAP F1")
		for _, p := range r.Pairs {
			fmt.Fprintf(tw, "%s–%s\t%d\t%s\t%s\n", p.A, p.B, p.Items, p.Span.Exact, p.Span.Overlap)
		}
	} else {
		fmt.Fprintln(tw, "LABEL\tPREVALENCE\tFLEISS KAPPA\tKRIPPENDORFF ALPHA")
		fmt.Fprintf(tw, "(overall)\t\t%s\t%s\n", r.Overall.FleissKappa, r.Overall.Alpha)
		for _, l := range sortedNames(r.Labels) {
			f := r.Labels[l]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l, f.Prevalence, f.FleissKappa, f.Alpha)
		}
		tw.Flush()
		fmt.Fprintln(tw, "PAIR\tITEMS\tCOHEN KAPPA\tOBSERVED")
		for _, p := range r.Pairs {
			fmt.Fprintf(tw, "%s–%s\t%d\t%s\t%s\n", p.A, p.B, p.Items, p.Kappa, p.Observed)
		}
	}
	tw.Flush()
	for _, m := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", m)
	}
}

func (e *env) annotateAdjudicateCmd() *cobra.Command {
	var project, in, pick string
	cmd := &cobra.Command{
		Use:   "adjudicate NAME -p PROJECT --as ADJUDICATOR [--pick ANNOTATOR | --in GOLD.jsonl]",
		Short: "Resolve tasks into gold data: list them, pick an annotator's answers or give edited ones",
		Long: `Without --pick or --in, lists the tasks awaiting adjudication with every
answer side by side (--output json for the full texts). --pick ANNOTATOR
takes that annotator's answer for every waiting task they answered;
--in gives gold answers in the format of 'hygie annotate submit'.`,
		Example: `  hygie annotate adjudicate deid-notes -p notes --as claire --output json
  hygie annotate adjudicate deid-notes -p notes --as claire --in gold.jsonl`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in != "" && pick != "" {
				return usageError{errors.New("give --pick or --in, not both")}
			}
			var answers []answerLine
			if in != "" {
				b, err := readInput(in, e.stdin)
				if err != nil {
					return err
				}
				if answers, err = readAnswers(b); err != nil {
					return err
				}
			}
			return e.withProject(cmd, project, auth.PermAnnotationAdjudicate, func(a *app.App, ctx context.Context) error {
				svc := annotateSvc(a)
				waiting, err := svc.ForAdjudication(ctx, project, args[0])
				if err != nil {
					return err
				}
				if in == "" && pick == "" {
					return e.print(waiting, func(w io.Writer) {
						fmt.Fprintf(w, "%d tasks awaiting adjudication\n", len(waiting))
						for _, r := range waiting {
							fmt.Fprintf(w, "task %d (%s):\n", r.ID, r.Ref)
							for _, an := range r.Annotations {
								b, _ := json.Marshal(an.Result)
								if an.Skipped {
									b = []byte("skipped: " + an.SkipReason)
								}
								fmt.Fprintf(w, "  %s: %s\n", an.Annotator, b)
							}
						}
					})
				}
				byRef := map[string]int64{}
				for _, r := range waiting {
					byRef[r.Ref] = r.ID
				}
				if pick != "" {
					for _, r := range waiting {
						for _, an := range r.Annotations {
							if an.Annotator == pick && !an.Skipped {
								answers = append(answers, answerLine{Task: r.ID, Result: an.Result})
							}
						}
					}
				}
				n := 0
				for _, ans := range answers {
					id, err := resolveTask(ans, byRef)
					if err != nil {
						return err
					}
					if _, err := svc.Adjudicate(ctx, project, args[0], id, ans.Result); err != nil {
						return fmt.Errorf("task %d: %w", id, err)
					}
					n++
				}
				return e.print(map[string]any{"adjudicated": n}, func(w io.Writer) { fmt.Fprintf(w, "adjudicated %d tasks\n", n) })
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&project, "project", "p", "", "project name (required)")
	f.StringVar(&in, "in", "", "gold answers JSONL")
	f.StringVar(&pick, "pick", "", "take this annotator's answers")
	return cmd
}

func (e *env) annotateExportCmd() *cobra.Command {
	var project, format, out, ds, level string
	cmd := &cobra.Command{
		Use:   "export NAME -p PROJECT [--format jsonl|conll] [--out FILE] [--dataset NAME [--level LEVEL]]",
		Short: "Export the gold data: JSONL (for hygie deid train --in), CoNLL, or a new dataset version",
		Long: `JSONL: span projects write {"id", "text", "entities"} lines, the format of
'hygie deid train --in' and 'hygie deid eval --gold'; classification
{"id", "text", "label"}. CoNLL: one token per line (white-space tokens, BIO
tags). --dataset saves the JSONL as a new version of a dataset, at
--level (default identifying: clinical text is identifying until proven
otherwise; an identifying version takes a steward).`,
		Example: `  hygie annotate export deid-notes -p notes --as marc --out gold.jsonl
  hygie annotate export deid-notes -p notes --as sophie --dataset notes_gold`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "jsonl" && format != "conll" {
				return usageError{fmt.Errorf("--format %q: want jsonl or conll", format)}
			}
			if ds != "" && format != "jsonl" {
				return usageError{errors.New("--dataset saves JSONL: drop --format")}
			}
			return e.withProject(cmd, project, auth.PermAnnotationManage, func(a *app.App, ctx context.Context) error {
				svc := annotateSvc(a)
				if ds != "" {
					res, n, err := svc.ExportDataset(ctx, project, args[0], annotate.ExportOptions{Dataset: ds, Level: dataset.Level(level)})
					if err != nil {
						return err
					}
					return e.print(map[string]any{"version": res.Version, "documents": n}, func(w io.Writer) {
						fmt.Fprintf(w, "saved %d gold documents as %s@%d (%s)\n", n, res.Version.Dataset, res.Version.Version, res.Version.Level)
					})
				}
				p, rs, err := svc.Reviews(ctx, project, args[0])
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				var n int
				if format == "conll" {
					n, err = annotate.WriteCoNLL(&buf, p, rs)
				} else {
					n, err = annotate.WriteGold(&buf, p, rs)
				}
				if err != nil {
					return err
				}
				if err := writeOutput(out, e.stdout, buf.Bytes()); err != nil {
					return err
				}
				if out != "" && out != "-" {
					fmt.Fprintf(e.stderr, "wrote %d gold documents to %s\n", n, out)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&project, "project", "p", "", "project name (required)")
	f.StringVar(&format, "format", "jsonl", "jsonl or conll")
	f.StringVar(&out, "out", "", "file to write (default: standard output)")
	f.StringVar(&ds, "dataset", "", "save as a new version of this dataset instead")
	f.StringVar(&level, "level", "", "with --dataset: privacy level (default identifying)")
	return cmd
}

func (e *env) annotateLSImportCmd() *cobra.Command {
	var project, in, pre string
	cmd := &cobra.Command{
		Use:   "labelstudio-import NAME -p PROJECT --in EXPORT.json",
		Short: "Import a Label Studio JSON export: tasks, annotations (by their authors) and predictions",
		Long: `Reads Label Studio's JSON export: "labels" results (start, end, labels) and
"choices" results. Annotations are recorded as their author's answers
(completed_by: email or username; numeric ids become labelstudio-user-N),
predictions as suggestions. A label outside the schema refuses the import.`,
		Example: "  hygie annotate labelstudio-import deid-notes -p notes --as marc --in project-1.json",
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readInput(in, e.stdin)
			if err != nil {
				return err
			}
			return e.withProject(cmd, project, auth.PermAnnotationManage, func(a *app.App, ctx context.Context) error {
				svc := annotateSvc(a)
				p, err := svc.Get(ctx, project, args[0])
				if err != nil {
					return err
				}
				tasks, err := annotate.ReadLabelStudio(bytes.NewReader(b), p.Kind)
				if err != nil {
					return err
				}
				return e.addTasks(ctx, svc, project, args[0], tasks, pre)
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.Flags().StringVar(&in, "in", "", "Label Studio JSON export")
	cmd.Flags().StringVar(&pre, "preannotate", "", `"deid": add suggestions from hygie's de-identifier`)
	return cmd
}

func (e *env) annotateLSExportCmd() *cobra.Command {
	var project, out, config string
	cmd := &cobra.Command{
		Use:     "labelstudio-export NAME -p PROJECT [--out FILE]",
		Short:   "Export every task with its annotations, suggestions and gold as Label Studio JSON",
		Example: "  hygie annotate labelstudio-export deid-notes -p notes --as marc --out deid-notes.json --config config.xml",
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withProject(cmd, project, auth.PermAnnotationManage, func(a *app.App, ctx context.Context) error {
				p, rs, err := annotateSvc(a).Reviews(ctx, project, args[0])
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				if err := annotate.WriteLabelStudio(&buf, p, rs); err != nil {
					return err
				}
				if config != "" {
					if err := os.WriteFile(config, []byte(annotate.LabelStudioConfig(p)), 0o644); err != nil {
						return err
					}
				}
				return writeOutput(out, e.stdout, buf.Bytes())
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.Flags().StringVar(&out, "out", "", "file to write (default: standard output)")
	cmd.Flags().StringVar(&config, "config", "", "also write the Label Studio labeling configuration (XML) to this file")
	return cmd
}

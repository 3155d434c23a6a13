package cli

// hygie model and hygie policy: the registry's governance from the command
// line — register, promote through the gates, sign off, clinical cases,
// rollback, model cards — and the project's gate policy.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	hmodel "github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/train"
)

func (e *env) modelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Model registry: register, promote through the gates, sign off, roll back, model cards",
		Long: `Model versions move one environment at a time, dev → test → integration →
production, and each promotion checks the project's gate policy for the
target environment ('hygie policy'): metric bounds on the confidence
intervals of the locked test split, test-set size, subgroups, clinician
sign-offs, the membership-inference audit, clinical test cases and no
regression against the version in place. Every attempt is recorded with its
report; a refused promotion changes nothing and exits with code 1.`,
	}
	cmd.AddCommand(e.modelRegisterCmd(), e.modelListCmd(), e.modelPromoteCmd(), e.modelSignoffCmd(), e.modelRollbackCmd(),
		e.modelPromotionsCmd(), e.modelCasesCmd(), e.modelCardCmd(), e.modelRetrainCmd(), e.modelCanaryCmd(), e.modelImportCmd(), e.modelSetCmd())
	return cmd
}

// modelVersionArgs parses NAME VERSION.
func modelVersionArgs(args []string) (string, int, error) {
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 1 {
		return "", 0, usageError{fmt.Errorf("version %q: want a positive integer", args[1])}
	}
	return args[0], n, nil
}

func (e *env) modelRegisterCmd() *cobra.Command {
	var project, name, description string
	cmd := &cobra.Command{
		Use:     "register RUN_ID -p PROJECT --name MODEL",
		Short:   "Register a training run's model as a new version (signature from the model file)",
		Example: "  hygie model register 12 -p sepsis-icu --as marc --name sepsis-risk",
		Args:    exactArgs(1, "RUN_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			run, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || run < 1 {
				return usageError{fmt.Errorf("run id %q: want a positive integer", args[0])}
			}
			if name == "" {
				return usageError{fmt.Errorf("--name is required")}
			}
			return e.withProject(cmd, project, auth.PermModelWrite, func(a *app.App, ctx context.Context) error {
				v, err := a.Registry.Register(ctx, project, name, run, train.ModelArtifact, hmodel.Format, registry.Signature{})
				if err != nil {
					return err
				}
				if description != "" {
					if err := a.Registry.SetDescription(ctx, name, description); err != nil {
						return err
					}
				}
				return e.print(v, func(w io.Writer) {
					fmt.Fprintf(w, "registered %s version %d from run %d (%d inputs)\n", v.Model, v.Version, run, len(v.Signature.Inputs))
				})
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.Flags().StringVar(&name, "name", "", "model name (created on first registration)")
	cmd.Flags().StringVar(&description, "description", "", "intended use, shown on the model card")
	return cmd
}

func (e *env) modelListCmd() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:     "list -p PROJECT",
		Short:   "List model versions and their environments",
		Example: "  hygie model list -p sepsis-icu --as claire",
		Args:    exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withProject(cmd, project, auth.PermModelRead, func(a *app.App, ctx context.Context) error {
				vs, err := a.Registry.ListVersions(ctx, project)
				if err != nil {
					return err
				}
				if vs == nil {
					vs = []registry.Version{}
				}
				return e.print(vs, func(w io.Writer) {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "MODEL\tVERSION\tENVIRONMENT\tRUN\tBY\tCREATED")
					for _, v := range vs {
						run := "-"
						if v.RunID != nil {
							run = strconv.FormatInt(*v.RunID, 10)
						}
						fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", v.Model, v.Version, v.Environment, run, v.CreatedBy, v.CreatedAt.Format(time.RFC3339))
					}
					tw.Flush()
				})
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	return cmd
}

// printPromotion writes a promotion report, one gate per line.
func printPromotion(w io.Writer, p registry.Promotion) {
	fmt.Fprintf(w, "%s version %d: %s → %s: %s", p.Model, p.Version, p.From, p.To, strings.ToUpper(p.Outcome))
	if p.Override != "" {
		fmt.Fprintf(w, " (%s)", p.Override)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, g := range p.Gates {
		verdict := "FAIL"
		if g.Pass {
			verdict = "pass"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\tneed %s\t%s\n", verdict, g.Gate, g.Value, g.Threshold, g.Detail)
	}
	tw.Flush()
	if len(p.Gates) == 0 && len(p.Checks) > 0 {
		fmt.Fprintf(w, "  %s\n", strings.Join(p.Checks, "\n  "))
	}
}

func (e *env) modelPromoteCmd() *cobra.Command {
	var project, to, override string
	cmd := &cobra.Command{
		Use:   "promote MODEL VERSION --to ENV -p PROJECT",
		Short: "Promote a version to the next environment, checking the gates",
		Long: `Promote a version to the next environment. Every gate of the project's policy
for that environment is checked and reported; if one fails the version stays
where it is and hygie exits with code 1. --override REASON (project admins
only) promotes past failing gates; it is recorded and audited as an override.`,
		Example: "  hygie model promote sepsis-risk 3 --to integration -p sepsis-icu --as marc",
		Args:    exactArgs(2, "MODEL VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, n, err := modelVersionArgs(args)
			if err != nil {
				return err
			}
			if to == "" {
				return usageError{fmt.Errorf("--to is required (dev, test, integration or production)")}
			}
			return e.withProject(cmd, project, auth.PermModelRead, func(a *app.App, ctx context.Context) error {
				var p registry.Promotion
				if override != "" {
					p, err = a.Registry.PromoteOverride(ctx, name, n, to, override)
				} else {
					p, err = a.Registry.Promote(ctx, name, n, to)
				}
				var ref *registry.RefusedError
				if errors.As(err, &ref) {
					if perr := e.print(ref.Promotion, func(w io.Writer) { printPromotion(w, ref.Promotion) }); perr != nil {
						return perr
					}
					return errs.Conflictf("promotion refused: fix the failing gates, or ask a project admin for --override with a reason")
				}
				if err != nil {
					return err
				}
				return e.print(p, func(w io.Writer) { printPromotion(w, p) })
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.Flags().StringVar(&to, "to", "", "target environment: the next one (dev, test, integration, production)")
	cmd.Flags().StringVar(&override, "override", "", "project admins: promote past failing gates, for this reason")
	return cmd
}

func (e *env) modelSignoffCmd() *cobra.Command {
	var project, environment, comment string
	cmd := &cobra.Command{
		Use:     "signoff MODEL VERSION --env ENV --comment TEXT -p PROJECT",
		Short:   "Sign a version off for an environment (clinician-validators; not the run's author)",
		Example: `  hygie model signoff sepsis-risk 3 --env integration --comment "reviewed on 40 ward cases" -p sepsis-icu --as claire`,
		Args:    exactArgs(2, "MODEL VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, n, err := modelVersionArgs(args)
			if err != nil {
				return err
			}
			if environment == "" || comment == "" {
				return usageError{fmt.Errorf("--env and --comment are required")}
			}
			return e.withProject(cmd, project, auth.PermModelRead, func(a *app.App, ctx context.Context) error {
				so, err := a.Registry.SignOff(ctx, name, n, environment, comment)
				if err != nil {
					return err
				}
				return e.print(so, func(w io.Writer) {
					fmt.Fprintf(w, "%s signed %s version %d off for %s\n", so.User, name, n, so.Environment)
				})
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.Flags().StringVar(&environment, "env", "", "environment the sign-off is for")
	cmd.Flags().StringVar(&comment, "comment", "", "what was checked")
	return cmd
}

func (e *env) modelRollbackCmd() *cobra.Command {
	var project, reason string
	cmd := &cobra.Command{
		Use:     "rollback MODEL --reason TEXT -p PROJECT",
		Short:   "Put the previous production version back in production",
		Example: `  hygie model rollback sepsis-risk --reason "false alarms reported by the ICU" -p sepsis-icu --as marc`,
		Args:    exactArgs(1, "MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return usageError{fmt.Errorf("--reason is required")}
			}
			return e.withProject(cmd, project, auth.PermModelPromote, func(a *app.App, ctx context.Context) error {
				p, err := a.Registry.Rollback(ctx, args[0], reason)
				if err != nil {
					return err
				}
				return e.print(p, func(w io.Writer) {
					fmt.Fprintf(w, "%s version %d is back in production (%s)\n", p.Model, p.Version, reason)
				})
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded and audited)")
	return cmd
}

func (e *env) modelSetCmd() *cobra.Command {
	var project, annotation string
	cmd := &cobra.Command{
		Use:   "set MODEL --feedback-annotation NAME -p PROJECT",
		Short: "Set a model's settings: the annotation project its predictions flagged incorrect go to by default",
		Long: `--feedback-annotation names an annotation project of the same project, of
kind classification or rows: a prediction of the model that a clinician marks
incorrect is added to it as a task unless another one is named ("" clears it).
The change is audited.`,
		Example: `  hygie model set sepsis-risk --feedback-annotation sepsis-review -p sepsis-icu --as alice`,
		Args:    exactArgs(1, "MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("feedback-annotation") {
				return usageError{fmt.Errorf("nothing to set: give --feedback-annotation NAME (or \"\" to clear it)")}
			}
			return e.withProject(cmd, project, auth.PermModelWrite, func(a *app.App, ctx context.Context) error {
				if p, err := a.Registry.ProjectOfModel(ctx, args[0]); err != nil || p != project {
					return errs.NotFoundf("model %q not found in project %q", args[0], project)
				}
				m, err := a.Registry.SetFeedbackAnnotation(ctx, args[0], annotation)
				if err != nil {
					return err
				}
				return e.print(m, func(w io.Writer) {
					if m.FeedbackAnnotation == "" {
						fmt.Fprintf(w, "%s: predictions flagged incorrect go to no annotation project by default\n", m.Name)
						return
					}
					fmt.Fprintf(w, "%s: predictions flagged incorrect go to annotation project %s by default\n", m.Name, m.FeedbackAnnotation)
				})
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.Flags().StringVar(&annotation, "feedback-annotation", "", `annotation project for predictions flagged incorrect ("" for none)`)
	return cmd
}

func (e *env) modelPromotionsCmd() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:     "promotions MODEL -p PROJECT",
		Short:   "Promotion reports of a model, newest first",
		Example: "  hygie model promotions sepsis-risk -p sepsis-icu --as claire",
		Args:    exactArgs(1, "MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withProject(cmd, project, auth.PermModelRead, func(a *app.App, ctx context.Context) error {
				ps, err := a.Registry.Promotions(ctx, args[0])
				if err != nil {
					return err
				}
				if ps == nil {
					ps = []registry.Promotion{}
				}
				return e.print(ps, func(w io.Writer) {
					for _, p := range ps {
						fmt.Fprintf(w, "%s by %s\n", p.At.Format(time.RFC3339), p.By)
						printPromotion(w, p)
					}
				})
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	return cmd
}

func (e *env) modelCasesCmd() *cobra.Command {
	var project, file string
	cmd := &cobra.Command{
		Use:   "cases MODEL [VERSION] -p PROJECT [--set FILE.yaml]",
		Short: "Set a model's clinical test cases, or run them against a version",
		Long: `With --set, replace the model's clinical test cases (YAML: cases: [{name,
inputs: {...}, expect: {min, max}}]); clinicians (model.signoff) or
scientists (model.write). With a VERSION, run the cases against it.`,
		Example: `  hygie model cases sepsis-risk --set cases.yaml -p sepsis-icu --as claire
  hygie model cases sepsis-risk 3 -p sepsis-icu --as claire`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 || (file == "") == (len(args) == 1) {
				return usageError{fmt.Errorf("%s takes MODEL --set FILE, or MODEL VERSION", cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withProject(cmd, project, auth.PermModelRead, func(a *app.App, ctx context.Context) error {
				if file != "" {
					b, err := os.ReadFile(file)
					if err != nil {
						return errs.Wrap(err, errs.Invalid, "cannot read %s", file)
					}
					cs, err := a.Registry.SetCases(ctx, project, args[0], b)
					if err != nil {
						return err
					}
					return e.print(cs, func(w io.Writer) { fmt.Fprintf(w, "%d clinical cases set for %s\n", len(cs), args[0]) })
				}
				name, n, err := modelVersionArgs(args)
				if err != nil {
					return err
				}
				v, err := a.Registry.Version(ctx, name, n)
				if err != nil {
					return err
				}
				res, err := a.Registry.RunCases(ctx, v)
				if err != nil {
					return err
				}
				if res == nil {
					res = []registry.CaseResult{}
				}
				return e.print(res, func(w io.Writer) {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "RESULT\tCASE\tPREDICTED\tEXPECTED")
					for _, r := range res {
						verdict := "pass"
						if !r.Pass {
							verdict = "FAIL"
						}
						fmt.Fprintf(tw, "%s\t%s\t%.4g\t%s %s\n", verdict, r.Name, r.Predicted, r.Expected, r.Error)
					}
					tw.Flush()
				})
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.Flags().StringVar(&file, "set", "", "replace the cases with this YAML file")
	return cmd
}

func (e *env) modelCardCmd() *cobra.Command {
	var project, out string
	cmd := &cobra.Command{
		Use:     "card MODEL VERSION -p PROJECT [--out card.md]",
		Short:   "The model card of a version, in Markdown",
		Example: "  hygie model card sepsis-risk 3 -p sepsis-icu --as claire --out sepsis-risk-v3.md",
		Args:    exactArgs(2, "MODEL VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, n, err := modelVersionArgs(args)
			if err != nil {
				return err
			}
			return e.withProject(cmd, project, auth.PermModelRead, func(a *app.App, ctx context.Context) error {
				c, err := a.Registry.Card(ctx, name, n)
				if err != nil {
					return err
				}
				if out != "" {
					if err := os.WriteFile(out, []byte(c.Markdown()), 0o644); err != nil {
						return errs.Wrap(err, errs.Invalid, "cannot write %s", out)
					}
				}
				return e.print(c, func(w io.Writer) {
					if out != "" {
						fmt.Fprintf(w, "model card written to %s\n", out)
						return
					}
					io.WriteString(w, c.Markdown())
				})
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.Flags().StringVar(&out, "out", "", "write the Markdown to this file")
	return cmd
}

func (e *env) policyCmd() *cobra.Command {
	var project, file string
	cmd := &cobra.Command{
		Use:   "policy -p PROJECT [--set policy.yaml]",
		Short: "Show or replace the project's gate policy",
		Long: `Show the project's gate policy, or replace it with --set (project admins).
See docs/registry.md for the format: per environment, metric bounds checked
on the confidence interval's pessimistic end, minimum test-set size and
positives, a subgroup rule, required clinician sign-offs, the privacy audit,
clinical test cases, no regression; webhooks notified of every promotion.`,
		Example: "  hygie policy -p sepsis-icu --set policy.yaml --as admin",
		Args:    exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withProject(cmd, project, auth.PermModelRead, func(a *app.App, ctx context.Context) error {
				var p *registry.Policy
				var err error
				if file != "" {
					b, rerr := os.ReadFile(file)
					if rerr != nil {
						return errs.Wrap(rerr, errs.Invalid, "cannot read %s", file)
					}
					p, err = a.Registry.SetPolicy(ctx, project, b)
				} else {
					p, err = a.Registry.Policy(ctx, project)
				}
				if err != nil {
					return err
				}
				return e.print(p, func(w io.Writer) { w.Write(p.YAML()) })
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.Flags().StringVar(&file, "set", "", "replace the policy with this YAML file")
	return cmd
}

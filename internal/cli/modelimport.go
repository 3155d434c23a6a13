package cli

// hygie model import: register a gradient-boosted model trained elsewhere
// (XGBoost JSON, LightGBM text) as a model version.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	hmodel "github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/registry"
)

func (e *env) modelImportCmd() *cobra.Command {
	var project, name, format, file, sigFile, task, target, positive, description string
	var inputs []string
	cmd := &cobra.Command{
		Use:   "import --name MODEL --format xgboost|lightgbm --file FILE [--signature sig.json | --input NAME...] -p PROJECT",
		Short: "Register an XGBoost (JSON) or LightGBM (text) model trained elsewhere as a new version",
		Long: `Import a gradient-boosted tree model trained in Python (XGBoost's
Booster.save_model("model.json"), LightGBM's Booster.save_model("model.txt"))
as a new version of MODEL. The trees are converted to hygie's model format
and checked to predict as the original does: the version is served over the
Open Inference Protocol, explained (TreeSHAP), monitored and promoted
through the gates like a model hygie trained. Regression and binary
classification models are supported.

The signature names the inputs in the model's feature order, their types
(numeric, or categorical with the categories in code order: code 0 first),
the task, the target column and the positive class, either as a JSON file:

  {"inputs": [{"name": "age"}, {"name": "ward", "type": "categorical",
   "categories": ["med", "rea", "usc"]}], "task": "binary",
   "target": "deces", "positive": "oui"}

or with flags: --input NAME (numeric) or --input NAME=CAT0,CAT1,...
(categorical), repeated in feature order, and --task, --target,
--positive. Without inputs, the model's own feature names are used, all
numeric. The import is a run of the experiment "imports" holding the
original file and its SHA-256.`,
		Example: `  hygie model import --name sepsis-xgb --format xgboost --file model.json --signature sig.json -p sepsis-icu --as marc
  hygie model import --name los --format lightgbm --file los.txt --input age --input lactate --input ward=med,rea,usc -p sepsis-icu --as marc`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" || format == "" || file == "" {
				return usageError{fmt.Errorf("--name, --format and --file are required")}
			}
			if sigFile != "" && (len(inputs) > 0 || task != "" || target != "" || positive != "") {
				return usageError{fmt.Errorf("--signature replaces --input, --task, --target and --positive: give one or the other")}
			}
			var sig registry.ImportSignature
			if sigFile != "" {
				b, err := os.ReadFile(sigFile)
				if err != nil {
					return errs.Wrap(err, errs.Invalid, "cannot read %s", sigFile)
				}
				if sig, err = registry.ParseImportSignature(b); err != nil {
					return errs.Invalidf("%s: %s", sigFile, errs.MessageOf(err))
				}
			} else {
				sig = registry.ImportSignature{Task: task, Target: target, Positive: positive}
				for _, in := range inputs {
					n, cats, ok := strings.Cut(in, "=")
					ii := registry.ImportInput{Name: strings.TrimSpace(n)}
					if ok {
						ii.Type = hmodel.Categorical
						for _, c := range strings.Split(cats, ",") {
							ii.Categories = append(ii.Categories, strings.TrimSpace(c))
						}
					}
					sig.Inputs = append(sig.Inputs, ii)
				}
			}
			b, err := os.ReadFile(file)
			if err != nil {
				return errs.Wrap(err, errs.Invalid, "cannot read %s", file)
			}
			return e.withProject(cmd, project, auth.PermModelWrite, func(a *app.App, ctx context.Context) error {
				v, err := a.Registry.Import(ctx, registry.ImportOptions{Project: project, Model: name, Format: format, File: b, FileName: filepath.Base(file), Signature: sig})
				if err != nil {
					return err
				}
				if description != "" {
					if err := a.Registry.SetDescription(ctx, name, description); err != nil {
						return err
					}
				}
				return e.print(v, func(w io.Writer) {
					fmt.Fprintf(w, "imported %s as %s version %d (run %d, %d inputs, output %s)\n", filepath.Base(file), v.Model, v.Version, *v.RunID, len(v.Signature.Inputs), v.Signature.Outputs[0].Name)
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&project, "project", "p", "", "project name (required)")
	f.StringVar(&name, "name", "", "model name (created on first registration)")
	f.StringVar(&format, "format", "", "xgboost (JSON model) or lightgbm (text model)")
	f.StringVar(&file, "file", "", "the model file")
	f.StringVar(&sigFile, "signature", "", "signature file (JSON: inputs, task, target, positive)")
	f.StringArrayVar(&inputs, "input", nil, "input in feature order: NAME (numeric) or NAME=CAT0,CAT1,... (categorical; repeatable)")
	f.StringVar(&task, "task", "", "binary or regression (default: from the model's objective)")
	f.StringVar(&target, "target", "", "the predicted column's name (default prediction)")
	f.StringVar(&positive, "positive", "", "binary: the target value the probability is for (default 1)")
	f.StringVar(&description, "description", "", "intended use, shown on the model card")
	return cmd
}

package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/keys"
	"github.com/hygie-health/hygie/internal/privacy/vault"
)

func (e *env) vaultCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "The vault: re-identify a pseudonym (reidentifiers, with a reason); rotate the master key",
	}
	var project, domain, reason string
	reid := &cobra.Command{
		Use:     "reidentify PSEUDONYM",
		Short:   "Show the original value of a pseudonym (reidentifier role, written reason, audited, rate-limited)",
		Example: `  hygie vault reidentify PS1a2b3c... -p demo-bmi --as rita --reason "incidental finding: contact the patient's physician"`,
		Args:    exactArgs(1, "PSEUDONYM"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if project == "" {
				return usageError{fmt.Errorf("--project is required")}
			}
			return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
				ctx, err := e.actAs(ctx, a)
				if err != nil {
					return err
				}
				op, err := a.Pseudo.Vault().Reidentify(ctx, vault.Request{Project: project, Domain: domain, Pseudonym: args[0], Reason: reason})
				if err != nil {
					return err
				}
				return e.print(op, func(w io.Writer) { fmt.Fprintf(w, "%s (domain %s): %s\n", op.Pseudonym, op.Domain, op.Original) })
			})
		},
	}
	reid.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	reid.Flags().StringVar(&domain, "domain", "", "pseudonym domain (default: any domain of the project)")
	reid.Flags().StringVar(&reason, "reason", "", "why the vault is opened (required, recorded in the audit log)")

	var newKey string
	rotate := &cobra.Command{
		Use:   "rotate-master",
		Short: "Re-wrap every key under a new master key (instance administrators); pseudonyms do not change",
		Long: `Re-wrap the pseudonym domain keys and the data keys of encrypted dataset
versions under the master key in --new-key-file (created with a random key
if it does not exist), in one transaction. Then configure that file as the
master key (HYGIE_MASTER_KEY_FILE) and destroy the old one: it no longer
opens anything. Stop the servers first.`,
		Example: "  hygie vault rotate-master --new-key-file /etc/hygie/master-2.key --as admin",
		Args:    exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if newKey == "" {
				return usageError{fmt.Errorf("--new-key-file is required")}
			}
			next, _, err := keys.Load(newKey, true)
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
				ctx, err := e.actAs(ctx, a)
				if err != nil {
					return err
				}
				rep, err := vault.RotateMaster(ctx, a.DB, a.Audit, a.Keys, next)
				if err != nil {
					return err
				}
				return e.print(rep, func(w io.Writer) {
					fmt.Fprintf(w, "re-wrapped %d secrets and %d dataset data keys; pseudonyms unchanged.\nNow set HYGIE_MASTER_KEY_FILE=%s and destroy the old master key.\n", rep.Secrets, rep.DataKeys, newKey)
				})
			})
		},
	}
	rotate.Flags().StringVar(&newKey, "new-key-file", "", "file of the new master key (64 hex characters; created if missing)")
	cmd.AddCommand(reid, rotate)
	return cmd
}

package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
)

func (e *env) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "migrate",
		Short:   "Apply pending database migrations",
		Long:    "Apply the embedded schema migrations, each in its own transaction. The server refuses to start on a schema newer than it knows.",
		Example: "  hygie migrate --database postgres://hygie@db.internal/hygie",
		Args:    exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := db.Open(cmd.Context(), e.cfg.Database, e.cfg.DataDir)
			if err != nil {
				return err
			}
			defer d.Close()
			n, err := d.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			st, err := d.Status(cmd.Context())
			if err != nil {
				return err
			}
			return e.print(map[string]any{"applied": n, "schema": st, "dialect": d.Dialect()}, func(w io.Writer) {
				fmt.Fprintf(w, "applied %d migration(s); %s schema at version %d\n", n, d.Dialect(), st.Current)
			})
		},
	}
}

func (e *env) configCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "config",
		Short:   "Print the effective configuration, secrets redacted",
		Example: "  HYGIE_DATA=/srv/hygie hygie config --output json",
		Args:    exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			s := e.cfg.Redacted()
			return e.print(s, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SETTING\tENVIRONMENT\tVALUE")
				for _, x := range s {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", x.Name, x.Env, x.Value)
				}
				tw.Flush()
			})
		},
	}
}

func (e *env) userCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users (works offline against the data directory)"}
	var (
		display, pwFile string
		pwStdin, admin  bool
	)
	create := &cobra.Command{
		Use:   "create USERNAME",
		Short: "Create a user",
		Long:  "Create a user. Users sign in to the web UI with a password or an API token; API clients use tokens (hygie token create).",
		Example: `  hygie user create claire --display-name "Dr Claire Martin"
  printf '%s' "$PW" | hygie user create sophie --password-stdin`,
		Args: exactArgs(1, "USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := e.readSecret(pwFile, pwStdin)
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
				u, err := a.Auth.CreateUser(ctx, args[0], display, pw, admin)
				if err != nil {
					return err
				}
				return e.print(u, func(w io.Writer) { fmt.Fprintf(w, "created user %s\n", u.Username) })
			})
		},
	}
	create.Flags().StringVar(&display, "display-name", "", "name shown in the UI")
	create.Flags().StringVar(&pwFile, "password-file", "", "read the password from this file")
	create.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input")
	create.Flags().BoolVar(&admin, "admin", false, "instance administrator (manages users and projects)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
				us, err := a.Auth.Users(ctx)
				if err != nil {
					return err
				}
				return e.print(us, func(w io.Writer) {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "USERNAME\tNAME\tADMIN\tPASSWORD\tCREATED")
					for _, u := range us {
						fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%s\n", u.Username, u.DisplayName, u.Admin, u.HasPassword, u.CreatedAt.Format(time.DateOnly))
					}
					tw.Flush()
				})
			})
		},
	}
	cmd.AddCommand(create, list)
	return cmd
}

func (e *env) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens (works offline against the data directory)"}
	var (
		name    string
		expires time.Duration
	)
	create := &cobra.Command{
		Use:     "create USERNAME",
		Short:   "Create an API token; the secret is printed once",
		Example: "  hygie token create marc --name laptop --expires 720h",
		Args:    exactArgs(1, "USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
				t, secret, err := a.Auth.CreateToken(ctx, args[0], name, auth.KindAPI, expires, "")
				if err != nil {
					return err
				}
				return e.print(map[string]any{"token": t, "secret": secret}, func(w io.Writer) {
					fmt.Fprintf(w, "%s\n", secret)
					fmt.Fprintf(e.stderr, "token %d for %s created; store the secret now, it is not shown again\n", t.ID, args[0])
				})
			})
		},
	}
	create.Flags().StringVar(&name, "name", "cli", "a name to recognise the token by")
	create.Flags().DurationVar(&expires, "expires", 0, "lifetime (e.g. 720h); 0 never expires")
	list := &cobra.Command{
		Use:   "list USERNAME",
		Short: "List a user's tokens",
		Args:  exactArgs(1, "USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
				ts, err := a.Auth.Tokens(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(ts, func(w io.Writer) {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tNAME\tKIND\tPREFIX\tCREATED\tEXPIRES\tREVOKED")
					for _, t := range ts {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s…\t%s\t%s\t%s\n", t.ID, t.Name, t.Kind, t.Prefix, t.CreatedAt.Format(time.DateTime), fmtTime(t.ExpiresAt), fmtTime(t.RevokedAt))
					}
					tw.Flush()
				})
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke USERNAME ID",
		Short: "Revoke a token",
		Args:  exactArgs(2, "USERNAME ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("token id %q is not a number", args[1])}
			}
			return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
				if err := a.Auth.RevokeToken(ctx, args[0], id); err != nil {
					return err
				}
				return e.print(map[string]any{"revoked": id}, func(w io.Writer) { fmt.Fprintf(w, "revoked token %d\n", id) })
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.DateTime)
}

func (e *env) projectCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "project", Short: "Manage projects (works offline against the data directory)"}
	var title, desc string
	create := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create a project",
		Example: `  hygie project create sepsis-icu --title "Early sepsis detection in ICU"`,
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
				p, err := a.Projects.Create(ctx, args[0], title, desc)
				if err != nil {
					return err
				}
				return e.print(p, func(w io.Writer) { fmt.Fprintf(w, "created project %s\n", p.Name) })
			})
		},
	}
	create.Flags().StringVar(&title, "title", "", "human-readable title")
	create.Flags().StringVar(&desc, "description", "", "description")
	list := &cobra.Command{
		Use:   "list",
		Short: "List projects",
		Args:  exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
				ps, err := a.Projects.List(ctx)
				if err != nil {
					return err
				}
				return e.print(ps, func(w io.Writer) {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tTITLE\tCREATED")
					for _, p := range ps {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.Title, p.CreatedAt.Format(time.DateOnly))
					}
					tw.Flush()
				})
			})
		},
	}
	cmd.AddCommand(create, list)
	return cmd
}

func (e *env) grantCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "grant PROJECT USERNAME ROLE",
		Short:   "Grant a role in a project",
		Long:    "Grant a role in a project. Roles: admin, steward, reidentifier, scientist, annotator, clinician-validator, viewer.",
		Example: "  hygie grant sepsis-icu claire clinician-validator",
		Args:    exactArgs(3, "PROJECT USERNAME ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
				if err := a.Auth.Grant(ctx, args[0], args[1], auth.Role(args[2])); err != nil {
					return err
				}
				return e.print(map[string]string{"project": args[0], "user": args[1], "role": args[2]}, func(w io.Writer) {
					fmt.Fprintf(w, "granted %s to %s in %s\n", args[2], args[1], args[0])
				})
			})
		},
	}
}

func (e *env) revokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "revoke PROJECT USERNAME ROLE",
		Short:   "Revoke a role in a project",
		Example: "  hygie revoke sepsis-icu claire clinician-validator",
		Args:    exactArgs(3, "PROJECT USERNAME ROLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
				if err := a.Auth.Revoke(ctx, args[0], args[1], auth.Role(args[2])); err != nil {
					return err
				}
				return e.print(map[string]string{"project": args[0], "user": args[1], "revoked": args[2]}, func(w io.Writer) {
					fmt.Fprintf(w, "revoked %s from %s in %s\n", args[2], args[1], args[0])
				})
			})
		},
	}
}

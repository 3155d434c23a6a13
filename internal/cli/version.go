package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
)

// BuildInfo describes the running binary: what `hygie version` prints.
type BuildInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Revision  string `json:"vcs_revision,omitempty"`
	Time      string `json:"vcs_time,omitempty"`
	Modified  bool   `json:"vcs_modified"`
	CGO       string `json:"cgo_enabled,omitempty"`
}

// buildInfo reads the version set at link time and what the Go toolchain
// recorded in the binary (VCS revision, time, uncommitted changes).
func buildInfo() BuildInfo {
	b := BuildInfo{Version: app.Version, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		case "CGO_ENABLED":
			b.CGO = s.Value
		}
	}
	return b
}

func (e *env) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and build information of this binary",
		Long: `Print hygie's version, the Go version it was built with, the VCS revision,
commit time and whether the tree had uncommitted changes (as recorded by the
Go toolchain), and the target OS and architecture.`,
		Example: `  hygie version
  hygie version --output json`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			b := buildInfo()
			return e.print(b, func(w io.Writer) {
				fmt.Fprintf(w, "hygie %s\n", b.Version)
				fmt.Fprintf(w, "go        %s %s/%s\n", b.GoVersion, b.OS, b.Arch)
				if b.Revision != "" {
					mod := ""
					if b.Modified {
						mod = " (modified)"
					}
					fmt.Fprintf(w, "revision  %s%s\n", b.Revision, mod)
				}
				if b.Time != "" {
					fmt.Fprintf(w, "time      %s\n", b.Time)
				}
				if b.CGO != "" {
					fmt.Fprintf(w, "cgo       %s\n", b.CGO)
				}
			})
		},
	}
}

// Command hygie is the MLOps platform for hospital data teams. See
// `hygie --help`.
package main

import (
	"context"
	"os"

	"github.com/hygie-health/hygie/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

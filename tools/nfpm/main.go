// Command nfpm builds hygie's Debian package from packaging/nfpm.yaml with
// nfpm used as a library. It lives in its own Go module so that the main
// module's go.mod does not carry nfpm's dependencies.
//
//	cd tools/nfpm && go run . -config ../../packaging/nfpm.yaml -target ../../dist
//
// VERSION and GOARCH in the environment are expanded in nfpm.yaml
// (${VERSION}, ${GOARCH}). Paths in nfpm.yaml are relative to the repository
// root (the parent directory of packaging/), whatever the working directory.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb"
)

func main() {
	config := flag.String("config", "packaging/nfpm.yaml", "nfpm configuration file")
	target := flag.String("target", "dist", "output directory")
	packager := flag.String("packager", "deb", "package format")
	flag.Parse()
	if err := run(*config, *target, *packager); err != nil {
		fmt.Fprintln(os.Stderr, "nfpm:", err)
		os.Exit(1)
	}
}

func run(config, target, format string) error {
	config, err := filepath.Abs(config)
	if err != nil {
		return err
	}
	target, err = filepath.Abs(target)
	if err != nil {
		return err
	}
	if os.Getenv("VERSION") == "" {
		return fmt.Errorf("VERSION is not set")
	}
	if os.Getenv("GOARCH") == "" {
		return fmt.Errorf("GOARCH is not set")
	}
	// Contents are relative to the repository root.
	if err := os.Chdir(filepath.Dir(filepath.Dir(config))); err != nil {
		return err
	}
	cfg, err := nfpm.ParseFileWithEnvMapping(config, os.Getenv)
	if err != nil {
		return fmt.Errorf("%s: %w", config, err)
	}
	info, err := cfg.Get(format)
	if err != nil {
		return err
	}
	info.Version = debVersion(info.Version)
	info.VersionSchema = "none"
	info = nfpm.WithDefaults(info)
	if err := nfpm.Validate(info); err != nil {
		return err
	}
	pkg, err := nfpm.Get(format)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	path := filepath.Join(target, pkg.ConventionalFileName(info))
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	if err := pkg.Package(info, f); err != nil {
		f.Close()
		os.Remove(path + ".tmp")
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return err
	}
	fmt.Println(path)
	return nil
}

// debVersion turns the Makefile's VERSION (git describe --tags --always
// --dirty) into a valid Debian version that sorts as expected: a leading v
// is dropped, '-' becomes '+' (1.2.0-3-gabc1234-dirty → 1.2.0+3+gabc1234+dirty,
// newer than 1.2.0), and a bare commit (no tag yet, no dot) becomes
// 0.0.0+gitCOMMIT.
func debVersion(v string) string {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	v = strings.ReplaceAll(v, "-", "+")
	if !strings.Contains(v, ".") || v[0] < '0' || v[0] > '9' {
		v = "0.0.0+git" + v
	}
	return v
}

// Command gosecgate reads gosec's JSON report and fails on every finding
// that is not in the list of accepted findings (gosec-accepted.txt), so that
// CI fails on new findings while the triaged ones stay written down, each
// with its reason. It lives in its own module so that the main go.mod does
// not change; scripts/security.sh runs it:
//
//	go run ./tools/security -report gosec.json -accepted tools/security/gosec-accepted.txt -root .
//
// A line of the accepted list is
//
//	RULE | PATH | SOURCE LINE | REASON
//
// PATH is relative to the repository root and SOURCE LINE is the text of
// the finding's first line with its indentation trimmed, so that an entry
// survives edits elsewhere in the file but not a change of the line itself.
// The reason must not contain " | ". Lines starting with # and blank lines
// are comments.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	report := flag.String("report", "", "gosec report (-fmt json)")
	accepted := flag.String("accepted", "", "list of accepted findings")
	root := flag.String("root", ".", "repository root (paths in the list are relative to it)")
	flag.Parse()
	n, err := run(*report, *accepted, *root, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gosecgate:", err)
		os.Exit(2)
	}
	if n > 0 {
		os.Exit(1)
	}
}

// finding is one gosec issue, located by rule, file and source line.
type finding struct {
	Rule, Path, Source string
	Line               int
	Details, Severity  string
}

func (f finding) key() string { return f.Rule + " | " + f.Path + " | " + f.Source }

// run prints the new findings, and the accepted ones no longer found, to w;
// it returns the number of new findings (plus packages gosec could not
// type-check: what it did not read was not checked).
func run(reportPath, acceptedPath, root string, w io.Writer) (int, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return 0, err
	}
	accepted, err := readAccepted(acceptedPath)
	if err != nil {
		return 0, err
	}
	found, loadErrs, err := readReport(reportPath, root)
	if err != nil {
		return 0, err
	}
	bad := 0
	for _, e := range loadErrs {
		fmt.Fprintf(w, "gosec could not check: %s\n", e)
		bad++
	}
	seen := map[string]bool{}
	var fresh []finding
	for _, f := range found {
		if _, ok := accepted[f.key()]; ok {
			seen[f.key()] = true
			continue
		}
		fresh = append(fresh, f)
	}
	for _, f := range fresh {
		fmt.Fprintf(w, "NEW %s %s:%d [%s] %s\n    %s\n", f.Rule, f.Path, f.Line, f.Severity, f.Details, f.Source)
	}
	var stale []string
	for k := range accepted {
		if !seen[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	for _, k := range stale {
		fmt.Fprintf(w, "no longer found (remove it from %s): %s\n", filepath.Base(acceptedPath), k)
	}
	fmt.Fprintf(w, "gosec: %d finding(s): %d accepted with a reason, %d new\n", len(found), len(found)-len(fresh), len(fresh))
	if len(fresh) > 0 {
		fmt.Fprintf(w, "fix them, or mark a false positive at its line with `// #nosec G… -- reason`, or add `RULE | PATH | SOURCE LINE | REASON` to %s\n", acceptedPath)
	}
	return bad + len(fresh), nil
}

// readAccepted reads the list; an entry without a reason is an error.
func readAccepted(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// The source line may itself hold " | " (a | b); the rule, the
		// path and the reason may not.
		parts := strings.SplitN(line, " | ", 3)
		i := strings.LastIndex(line, " | ")
		if len(parts) != 3 || i < len(parts[0])+len(parts[1])+6 || strings.TrimSpace(line[i+3:]) == "" {
			return nil, fmt.Errorf("%s:%d: want RULE | PATH | SOURCE LINE | REASON (a reason is required)", path, n)
		}
		src := line[len(parts[0])+len(parts[1])+6 : i]
		k := strings.TrimSpace(parts[0]) + " | " + strings.TrimSpace(parts[1]) + " | " + strings.TrimSpace(src)
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s:%d: listed twice", path, n)
		}
		out[k] = strings.TrimSpace(line[i+3:])
	}
	return out, sc.Err()
}

// readReport reads gosec's JSON report; each finding's source line is read
// from the file itself.
func readReport(path, root string) ([]finding, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var r struct {
		Errors map[string][]struct {
			Line  int    `json:"line"`
			Error string `json:"error"`
		} `json:"Golang errors"`
		Issues []struct {
			Rule     string `json:"rule_id"`
			File     string `json:"file"`
			Line     string `json:"line"`
			Details  string `json:"details"`
			Severity string `json:"severity"`
		} `json:"Issues"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var errs []string
	for file, es := range r.Errors {
		for _, e := range es {
			errs = append(errs, fmt.Sprintf("%s:%d: %s", rel(root, file), e.Line, strings.TrimSpace(e.Error)))
		}
	}
	sort.Strings(errs)
	lines := map[string][]string{}
	var out []finding
	for _, is := range r.Issues {
		first, _, _ := strings.Cut(is.Line, "-")
		n, err := strconv.Atoi(first)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: issue %s in %s: line %q", path, is.Rule, is.File, is.Line)
		}
		src, ok := lines[is.File]
		if !ok {
			text, err := os.ReadFile(is.File)
			if err != nil {
				return nil, nil, err
			}
			src = strings.Split(string(text), "\n")
			lines[is.File] = src
		}
		s := ""
		if n >= 1 && n <= len(src) {
			s = strings.TrimSpace(src[n-1])
		}
		out = append(out, finding{Rule: is.Rule, Path: rel(root, is.File), Source: s, Line: n, Details: is.Details, Severity: is.Severity})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Line < out[j].Line
	})
	return out, errs, nil
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return path
}

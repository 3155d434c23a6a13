package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hygie-health/hygie/internal/errs"
)

// Output is what a step produced: a dataset version, a run, a model
// version or a report.
type Output struct {
	Kind    Kind   `json:"kind"`
	Ref     string `json:"ref"`              // name@version, run id, model@version
	ID      int64  `json:"id,omitempty"`     // the dataset version's, run's or model version's number
	Digest  string `json:"digest,omitempty"` // content hash of a dataset version
	Summary string `json:"summary,omitempty"`
}

// identity is what downstream cache keys see of an output: the content
// hash of a dataset version, the id of anything else.
func (o Output) identity() string {
	if o.Digest != "" {
		return "sha256:" + o.Digest
	}
	return string(o.Kind) + ":" + o.Ref
}

// keyParts are the components of a step's cache key.
type keyParts struct {
	Type    string            `json:"type"`
	Version int               `json:"version"`
	Config  json.RawMessage   `json:"config"`
	Inputs  map[string]string `json:"inputs"` // input name (or after:STEP, or source) → identity
}

func (k keyParts) hashes() (key, config, inputs string) {
	b, _ := json.Marshal(k)
	ci, _ := json.Marshal(k.Inputs)
	return sum(b), sum(k.Config), sum(ci)
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// configJSON is the resolved configuration as canonical JSON (struct
// fields in order, maps sorted by encoding/json).
func configJSON(cfg any) json.RawMessage {
	b, _ := json.Marshal(cfg)
	return b
}

// resolveFiles replaces file references in a configuration by their
// content where the content is what matters (recipes), reading them
// relative to dir.
func resolveFiles(st *Step, dir string) error {
	if c, ok := st.Config.(*RecipeConfig); ok && c.File != "" {
		b, err := os.ReadFile(filepath.Join(dir, c.File))
		if err != nil {
			return errs.Invalidf("step %q: recipe file %s: %v", st.Name, c.File, pathErr(err))
		}
		c.Recipe, c.File = string(b), ""
	}
	return nil
}

func pathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// fileDigest is the SHA-256 of a file's content.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SQLDigest runs query on the PostgreSQL warehouse at dsn and hashes its
// result (column names, then every row's values as text): the source
// identity of a SQL import, and what a "changed SQL result" trigger
// watches. Values never leave this function.
func SQLDigest(ctx context.Context, dsn, query string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", errs.Invalidf("cannot connect to the warehouse: %s", redact(err.Error(), dsn))
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return "", errs.Invalidf("warehouse query: %s", redact(err.Error(), dsn))
	}
	defer rows.Close()
	h := sha256.New()
	for _, f := range rows.FieldDescriptions() {
		fmt.Fprintf(h, "%s\x1f", f.Name)
	}
	h.Write([]byte{'\n'})
	n := 0
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return "", err
		}
		for _, v := range vals {
			fmt.Fprintf(h, "%v\x1f", v)
		}
		h.Write([]byte{'\n'})
		n++
	}
	if err := rows.Err(); err != nil {
		return "", errs.Invalidf("warehouse query: %s", redact(err.Error(), dsn))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func redact(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "[dsn]")
}

// staleReason explains why a step whose key has no cached outputs must run,
// comparing with the last outputs recorded for the step.
func staleReason(prev *cacheEntry, k keyParts) string {
	if prev == nil {
		return "never run"
	}
	_, config, inputs := k.hashes()
	var why []string
	if prev.StepVersion != k.Version {
		why = append(why, fmt.Sprintf("step version changed (%d → %d)", prev.StepVersion, k.Version))
	}
	if prev.ConfigHash != config {
		why = append(why, "config changed")
	}
	if prev.InputsHash != inputs {
		why = append(why, "input changed")
	}
	if len(why) == 0 {
		return "outputs not recorded"
	}
	sort.Strings(why)
	return strings.Join(why, ", ")
}

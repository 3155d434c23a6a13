package cli

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/blob/blobtest"
)

func TestVersionCommand(t *testing.T) {
	code, out, errOut := run(t, nil, "", "version")
	if code != 0 || !strings.HasPrefix(out, "hygie ") || !strings.Contains(out, "go1.") {
		t.Fatalf("hygie version = %d\n%s%s", code, out, errOut)
	}
	code, out, _ = run(t, nil, "", "version", "--output", "json")
	var b BuildInfo
	if code != 0 || json.Unmarshal([]byte(out), &b) != nil || b.Version == "" || b.GoVersion == "" || b.OS == "" || b.Arch == "" {
		t.Fatalf("hygie version --output json = %d\n%s", code, out)
	}
}

func TestBackupAndRestoreCommands(t *testing.T) {
	src := map[string]string{"HYGIE_DATA": t.TempDir(), "HYGIE_LOG_LEVEL": "warn"}
	for _, args := range [][]string{{"migrate"}, {"user", "create", "alice", "--admin"}, {"project", "create", "sepsis-icu"}} {
		if code, out, errOut := run(t, src, "", args...); code != 0 {
			t.Fatalf("hygie %v = %d\n%s%s", args, code, out, errOut)
		}
	}
	dir := filepath.Join(t.TempDir(), "backup")
	code, out, errOut := run(t, src, "", "backup")
	if code != 2 {
		t.Fatalf("backup without --to = %d\n%s", code, errOut)
	}
	code, out, errOut = run(t, src, "", "backup", "--to", dir)
	if code != 0 || !strings.Contains(out, "backup written to") || !strings.Contains(out, "projects") {
		t.Fatalf("backup = %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := run(t, src, "", "backup", "--to", dir); code != 1 || !strings.Contains(errOut, "not empty") {
		t.Fatalf("backup into a used directory = %d\n%s", code, errOut)
	}
	if code, _, errOut := run(t, src, "", "audit", "list", "--action", "backup.*"); code != 0 {
		t.Fatalf("audit list: %d %s", code, errOut)
	}

	dst := map[string]string{"HYGIE_DATA": filepath.Join(t.TempDir(), "restored"), "HYGIE_LOG_LEVEL": "warn"}
	code, out, errOut = run(t, dst, "", "restore", "--from", dir, "--output", "json")
	var res struct {
		Audit struct {
			OK     bool  `json:"ok"`
			Events int64 `json:"events"`
		} `json:"audit"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || !res.Audit.OK || res.Audit.Events == 0 {
		t.Fatalf("restore = %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, dst, "", "user", "list"); code != 0 || !strings.Contains(out, "alice") {
		t.Fatalf("user list on the restored instance = %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := run(t, dst, "", "restore", "--from", dir); code != 1 || !strings.Contains(errOut, "empty target") {
		t.Fatalf("restore over an instance = %d\n%s", code, errOut)
	}

	// A modified backup is refused with a clear message.
	if err := os.WriteFile(filepath.Join(dir, "metadata.sqlite"), []byte("not the database"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := map[string]string{"HYGIE_DATA": filepath.Join(t.TempDir(), "other")}
	if code, _, errOut := run(t, other, "", "restore", "--from", dir); code != 1 || !strings.Contains(errOut, "tampered with") {
		t.Fatalf("restore of a tampered backup = %d\n%s", code, errOut)
	}
}

// TestBackupToS3 backs up to s3:// and restores from it with the artifact
// store's S3 settings, into a fresh instance.
func TestBackupToS3(t *testing.T) {
	s3 := blobtest.S3(t)
	bucket := blobtest.Bucket(t)
	settings := func(data string) map[string]string {
		return map[string]string{"HYGIE_DATA": data, "HYGIE_LOG_LEVEL": "warn", "HYGIE_S3_ENDPOINT": s3.Endpoint,
			"HYGIE_S3_ACCESS_KEY": s3.AccessKey, "HYGIE_S3_SECRET_KEY": s3.SecretKey, "HYGIE_S3_REGION": s3.Region}
	}
	src := settings(t.TempDir())
	for _, args := range [][]string{{"migrate"}, {"user", "create", "alice", "--admin"}, {"project", "create", "sepsis-icu"}} {
		if code, out, errOut := run(t, src, "", args...); code != 0 {
			t.Fatalf("hygie %v = %d\n%s%s", args, code, out, errOut)
		}
	}
	to := "s3://" + bucket + "/nightly/2026-11-30"
	if code, out, errOut := run(t, src, "", "backup", "--to", to); code != 0 || !strings.Contains(out, "backup written to "+to) {
		t.Fatalf("backup to s3 = %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := run(t, src, "", "backup", "--to", to); code != 1 || !strings.Contains(errOut, "not empty") {
		t.Fatalf("backup to a used prefix = %d\n%s", code, errOut)
	}
	noS3 := maps.Clone(src)
	delete(noS3, "HYGIE_S3_ENDPOINT")
	if code, out, errOut := run(t, noS3, "", "backup", "--to", to); code != 1 || !strings.Contains(errOut, "s3_endpoint") {
		t.Fatalf("backup to s3 without an endpoint = %d\n%s%s", code, out, errOut)
	}

	dst := settings(filepath.Join(t.TempDir(), "restored"))
	if code, out, errOut := run(t, dst, "", "restore", "--from", to); code != 0 || !strings.Contains(out, "audit chain verified") {
		t.Fatalf("restore from s3 = %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, dst, "", "project", "list"); code != 0 || !strings.Contains(out, "sepsis-icu") {
		t.Fatalf("project list on the restored instance = %d\n%s%s", code, out, errOut)
	}
	other := settings(filepath.Join(t.TempDir(), "other"))
	if code, _, errOut := run(t, other, "", "restore", "--from", "s3://"+bucket+"/nightly"); code != 1 || !strings.Contains(errOut, "not a complete hygie backup") {
		t.Fatalf("restore from the parent prefix = %d\n%s", code, errOut)
	}
}

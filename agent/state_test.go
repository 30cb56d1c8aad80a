package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStateCleansStaleTemp: a sync killed while writing the state file or
// the last-sync time leaves ".NAME.ecs-keyagent-*"; the next write removes
// it (found by agent/reliability's SIGKILL test, where they piled up).
func TestStateCleansStaleTemp(t *testing.T) {
	root := t.TempDir()
	stale := []string{
		filepath.Join(root, StateDir, "."+StateFile+".ecs-keyagent-0123456789abcdef"),
		filepath.Join(root, filepath.Dir(LastSyncPath), "."+filepath.Base(LastSyncPath)+".ecs-keyagent-0123456789abcdef"),
	}
	for _, p := range stale {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeState(root, &Report{Outcome: OutcomeOK}); err != nil {
		t.Fatalf("writeState: %v", err)
	}
	if err := writeLastSync(root, time.Now()); err != nil {
		t.Fatalf("writeLastSync: %v", err)
	}
	for _, p := range stale {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("stale temporary file %s still there (lstat: %v)", p, err)
		}
	}
}

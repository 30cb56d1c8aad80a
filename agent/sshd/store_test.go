package sshd

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSaveCleansStaleTemp: a sync killed between creating its temporary
// file and renaming it leaves ".NAME.ecs-keyagent-*" in /etc/ssh; the next
// save of NAME removes it, as the authorized_keys step does (found by
// agent/reliability's SIGKILL test).
func TestSaveCleansStaleTemp(t *testing.T) {
	dir := t.TempDir()
	ssh := filepath.Join(dir, "etc/ssh")
	if err := os.MkdirAll(ssh, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(ssh, ".sshd_config.ecs-keyagent-0123456789abcdef")
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := store{root: "/", trust: dir}
	for _, f := range []fileState{
		{path: ssh + "/sshd_config", exists: true, data: []byte("Port 22\n"), mode: 0o644, uid: os.Geteuid(), gid: os.Getegid()},
		{path: ssh + "/sshd_config"}, // removing cleans too
	} {
		if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := st.save(f); err != nil {
			t.Fatalf("save(%s, exists %v): %v", f.path, f.exists, err)
		}
		if _, err := os.Lstat(stale); !os.IsNotExist(err) {
			t.Errorf("save(%s, exists %v) left the stale temporary file (lstat: %v)", f.path, f.exists, err)
		}
	}
}

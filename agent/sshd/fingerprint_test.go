package sshd

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

func TestFingerprint(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc/ssh/sshd_config.d")
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	agenttest.Layout(t, root, "ubuntu-cloud")
	o := Options{Root: root, Users: []string{"root"}}
	fp := func(o Options) string {
		t.Helper()
		s, err := Fingerprint(o)
		if err != nil {
			t.Fatalf("Fingerprint: %v", err)
		}
		return s
	}
	first := fp(o)
	if again := fp(o); again != first {
		t.Errorf("Fingerprint changed with nothing changed: %s, then %s", first, again)
	}
	steps := []struct {
		name   string
		change func() Options
	}{
		{"mode", func() Options { o2 := o; o2.Password = Keep; return o2 }},
		{"users", func() Options { o2 := o; o2.Users = []string{"root", "ecs-user"}; return o2 }},
		{"drop-in edited", func() Options {
			write("etc/ssh/sshd_config.d/50-cloud-init.conf", "PasswordAuthentication no\n")
			return o
		}},
		{"drop-in added", func() Options { write("etc/ssh/sshd_config.d/00-ecs-keyagent.conf", "# x\n"); return o }},
		{"drop-in removed", func() Options { os.Remove(filepath.Join(dir, "00-ecs-keyagent.conf")); return o }},
		{"main file edited", func() Options { write("etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\n"); return o }},
	}
	prev := first
	for _, step := range steps {
		got := fp(step.change())
		if got == prev {
			t.Errorf("after %s, Fingerprint = %s, unchanged", step.name, got)
		}
		prev = got
	}
}

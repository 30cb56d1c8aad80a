package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

// The agent's sshd drop-in deleted or edited by hand is repaired by the
// running service within about a second, like authorized_keys.
func TestServiceRepairsSSHDDropIn(t *testing.T) {
	f := newFixture(t, "alice")
	sshDir := filepath.Join(f.root, "etc/ssh")
	agenttest.Layout(t, f.root, "debian12")
	main := f.read(filepath.Join(sshDir, "sshd_config"))
	f.imds.SetKeys(emulator.Key{ID: "skp-1", Body: newKey(t, "k1")})
	f.start()
	f.waitNote("READY=1", isReady)
	dropIn := filepath.Join(sshDir, "sshd_config.d/00-ecs-keyagent.conf")
	good := func() bool {
		b, err := os.ReadFile(dropIn)
		return err == nil && strings.Contains(string(b), "PasswordAuthentication no\n")
	}
	f.eventually("drop-in written", good)
	want := f.read(dropIn)

	if err := os.Remove(dropIn); err != nil {
		t.Fatal(err)
	}
	f.eventually("drop-in deleted: repaired", good)

	if err := os.WriteFile(dropIn, []byte(strings.ReplaceAll(want, " no\n", " yes\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	f.eventually("drop-in edited: repaired", func() bool { return good() && f.read(dropIn) == want })
	if got := f.read(filepath.Join(sshDir, "sshd_config")); got != main {
		t.Errorf("sshd_config = %q, want it untouched: %q", got, main)
	}
}

package packaging

import (
	"os/exec"
	"testing"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// TestShellScripts checks the shell scripts of the build, the demo, the
// sshd-versions trees and the bash completion with sh -n (or bash -n) and
// shellcheck. The maintainer scripts are checked by packaging/e2e.
func TestShellScripts(t *testing.T) {
	agenttest.MustHaveCommands(t, "sh", "bash", "shellcheck")
	for _, s := range []struct{ path, shell string }{
		{"version.sh", "sh"},
		{"changelog.sh", "sh"},
		{"sshd-versions/prepare", "sh"},
		{"../docs/demo.sh", "sh"},
		{bashCompletion, "bash"},
	} {
		t.Run(s.path, func(t *testing.T) {
			if out, err := exec.Command(s.shell, "-n", s.path).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", s.shell, err, out)
			}
			if out, err := exec.Command("shellcheck", "-s", s.shell, s.path).CombinedOutput(); err != nil {
				t.Errorf("shellcheck: %v\n%s", err, out)
			}
		})
	}
}

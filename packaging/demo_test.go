package packaging

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// TestDemo runs docs/demo.sh (make demo) as `make demo | cat` would: with
// its output on a pipe, it must finish in well under a minute, exit 0,
// show the one-shot path and the service's rotation, repair and stop, and
// print no terminal escapes. As root it runs a second time as nobody: the
// demo needs no privilege.
func TestDemo(t *testing.T) {
	agenttest.MustHaveCommands(t, "go", "sh", "sed", "grep")
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	for _, cmd := range []string{"ecs-keyagent", "ecs-metadata-emulator"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "../cmd/"+cmd)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", cmd, err, out)
		}
	}
	script, err := filepath.Abs("../docs/demo.sh")
	if err != nil {
		t.Fatal(err)
	}
	demo := func(t *testing.T, prefix ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		args := append(prefix, "sh", script, bin)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TERM=xterm-256color", "TMPDIR="+dir)
		cmd.WaitDelay = 5 * time.Second
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		if err != nil {
			t.Fatalf("demo.sh: %v after %v\n%s", err, took, out)
		}
		t.Logf("demo.sh took %v", took.Round(time.Millisecond))
		if took > 45*time.Second {
			t.Errorf("demo.sh took %v, want well under a minute", took)
		}
		text := string(out)
		if strings.Contains(text, "\033") {
			t.Errorf("demo.sh printed terminal escapes to a pipe:\n%q", text)
		}
		for _, want := range []string{
			"== sync again: nothing to do, nothing written",
			"(service ready after ", "(key bound after ", "(key replaced after ", "(block repaired after ",
			"\nexit status 0\n", `"msg":"stopping"`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("demo.sh output lacks %q", want)
			}
		}
		if strings.Contains(text, "ecs-keyagent-demo.") {
			t.Errorf("demo.sh output shows its scratch directory instead of $DEMO")
		}
		if t.Failed() {
			t.Logf("output:\n%s", text)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "ecs-keyagent-demo.*")); len(left) > 0 {
			t.Errorf("demo.sh left %q behind", left)
		}
	}
	t.Run("as this user", func(t *testing.T) { demo(t) })
	if os.Geteuid() == 0 {
		t.Run("as nobody", func(t *testing.T) {
			agenttest.MustHaveCommands(t, "setpriv")
			// nobody writes its scratch tree in dir and runs the binaries.
			mode := os.FileMode(0o1777)
			for d := dir; strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
				if err := os.Chmod(d, mode); err != nil {
					t.Fatal(err)
				}
				mode = 0o755
			}
			demo(t, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
		})
	}
}

//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// repoRoot is the repository, two levels up from this package.
var repoRoot, _ = filepath.Abs("../..")

// prereq fails (CI=true) or skips the test unless it runs as root and every
// one of tools is on PATH (agenttest's policy).
func prereq(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		agenttest.SkipOrFail(t, "needs %s (apt-get install debootstrap systemd-container systemd rpm shellcheck groff-base openssh-client)", strings.Join(missing, ", "))
	}
}

// dist returns the path of the one built package matching pattern (a glob
// in E2E_DIST, default dist/).
func dist(t *testing.T, pattern string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(distDir(), pattern))
	if err != nil || len(m) != 1 {
		t.Fatalf("find %s in %s: found %d, want 1 (make deb rpm builds them)", pattern, distDir(), len(m))
	}
	return m[0]
}

// distDir is where make deb rpm put the packages and the man page.
func distDir() string {
	if d := os.Getenv("E2E_DIST"); d != "" {
		return d
	}
	return filepath.Join(repoRoot, "dist")
}

// binDir is where make build put ecs-keyagent and the emulator.
func binDir() string {
	if d := os.Getenv("E2E_BIN"); d != "" {
		return d
	}
	return filepath.Join(repoRoot, "bin")
}

// debArch and rpmArch name this machine's architecture as the packages do.
func debArch() string { return runtime.GOARCH }

func rpmArch() string {
	return map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
}

// result is what a command printed and how it ended.
type result struct {
	stdout, stderr string
	err            error
}

func (r result) String() string {
	return fmt.Sprintf("err=%v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
}

// run runs a command with a timeout and returns its output.
func run(timeout time.Duration, name string, args ...string) result {
	return runEnv(timeout, nil, name, args...)
}

// runEnv is run with env added to this process's environment.
func runEnv(timeout time.Duration, env []string, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	err := cmd.Run()
	return result{stdout: out.String(), stderr: errb.String(), err: err}
}

// must runs a command and fails the test if it does not succeed.
func must(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	r := run(timeout, name, args...)
	if r.err != nil {
		t.Fatalf("%s %s: %s", name, strings.Join(args, " "), r)
	}
	return r.stdout
}

// step logs how long each part of a long test took.
type step struct {
	t     *testing.T
	start time.Time
	last  time.Time
}

func newStep(t *testing.T) *step { now := time.Now(); return &step{t: t, start: now, last: now} }

func (s *step) done(what string) {
	s.t.Helper()
	now := time.Now()
	s.t.Logf("%-52s %6.1fs (total %5.1fs)", what, now.Sub(s.last).Seconds(), now.Sub(s.start).Seconds())
	s.last = now
}

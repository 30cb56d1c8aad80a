package agenttest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// CI reports whether the tests run in CI (CI=true), where nothing may be
// skipped for a missing prerequisite.
func CI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips t with the reason, or fails it when CI=true: CI installs
// every prerequisite and runs as root, so a missing one there is a broken
// machine, not a reason to pass.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s; CI=true forbids skipping", msg)
	}
	t.Skip(msg)
}

// HaveRoot reports whether the process runs as root. Not root is an error
// when CI=true, and false otherwise: the caller skips.
func HaveRoot() (bool, error) {
	if os.Geteuid() == 0 {
		return true, nil
	}
	if CI() {
		return false, errors.New("needs root, and CI=true forbids skipping")
	}
	return false, nil
}

// MustHaveRoot lets t go on only as root; why says what needs it.
func MustHaveRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root: %s", why)
	}
}

// MustHaveCommands lets t go on only when every name is found on PATH (or,
// with a slash, exists).
func MustHaveCommands(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		SkipOrFail(t, "needs %s", strings.Join(missing, ", "))
	}
}

// SSHD is the OpenSSH server binary the tests run.
const SSHD = "/usr/sbin/sshd"

// PrivsepDir is sshd's privilege separation directory, which sshd -t, -T
// and -D require and systemd creates when it starts ssh.service.
const PrivsepDir = "/run/sshd"

// MustHaveSSHD lets t go on only when the real sshd and ssh-keygen can run:
// the binaries are installed and PrivsepDir exists (created here as root).
// Root itself is not needed: the tests give sshd host keys of their own.
func MustHaveSSHD(t testing.TB) {
	t.Helper()
	MustHaveCommands(t, SSHD, "ssh-keygen")
	if os.Geteuid() == 0 {
		if err := os.MkdirAll(PrivsepDir, 0o755); err != nil {
			t.Fatalf("create %s: %v", PrivsepDir, err)
		}
		return
	}
	if fi, err := os.Stat(PrivsepDir); err != nil || !fi.IsDir() {
		SkipOrFail(t, "needs %s, sshd's privilege separation directory, which only root can create (it exists once ssh.service has started): %v", PrivsepDir, err)
	}
}

// SSHDsEnv names the sshd binaries to check with besides the host's, as
// comma-separated label=path pairs (for example
// "openssh-8.4=/var/cache/ecs-keyagent-sshd/bullseye/sshd"): each path is
// a program that takes sshd's arguments, such as a wrapper that runs the
// sshd of another release. `make sshd-versions` sets it.
const SSHDsEnv = "ECS_KEYAGENT_SSHDS"

// SSHDBinary is one sshd a test checks configurations with.
type SSHDBinary struct {
	Label string // what a subtest is named after: "host" or the pair's label
	Path  string
}

// SSHDs returns the sshd binaries to check with: the host's SSHD first,
// then each one SSHDsEnv names. It applies MustHaveSSHD; a named binary
// that is missing fails the test, since whoever set the variable wants it
// checked.
func SSHDs(t testing.TB) []SSHDBinary {
	t.Helper()
	MustHaveSSHD(t)
	out := []SSHDBinary{{Label: "host", Path: SSHD}}
	for _, pair := range strings.Split(os.Getenv(SSHDsEnv), ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		label, path, ok := strings.Cut(pair, "=")
		if !ok || label == "" || path == "" {
			t.Fatalf("%s: %q is not label=path", SSHDsEnv, pair)
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%s: %s: %v", SSHDsEnv, label, err)
		}
		out = append(out, SSHDBinary{Label: label, Path: path})
	}
	return out
}

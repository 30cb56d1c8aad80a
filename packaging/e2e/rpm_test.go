//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// rpmFiles is what the .rpm installs, in rpm -qlp's order.
var rpmFiles = []string{
	"/etc/ecs-keyagent",
	"/etc/ecs-keyagent/config.toml",
	"/usr/bin/ecs-keyagent",
	"/usr/lib/systemd/system-preset/80-ecs-keyagent.preset",
	"/usr/lib/systemd/system/ecs-keyagent.service",
	"/usr/share/bash-completion/completions/ecs-keyagent",
	"/usr/share/doc/ecs-keyagent/README.md",
	"/usr/share/licenses/ecs-keyagent/LICENSE",
	"/usr/share/man/man8/ecs-keyagent.8.gz",
	"/usr/share/zsh/site-functions/_ecs-keyagent",
}

// TestRPMLayout checks the .rpm with rpm itself: file list, config flags,
// scripts, and a scratch install (no scripts, no dependencies) into a
// temporary root.
func TestRPMLayout(t *testing.T) {
	prereq(t, "rpm")
	for _, arch := range []string{"x86_64", "aarch64"} {
		pkg := dist(t, "ecs-keyagent-*."+arch+".rpm")
		name := filepath.Base(pkg)
		files := strings.Fields(must(t, time.Minute, "rpm", "-qlp", pkg))
		if !slices.Equal(files, rpmFiles) {
			t.Errorf("rpm -qlp %s = %q, want %q", name, files, rpmFiles)
		}
		// c = %config, n = noreplace: an edited file survives upgrades.
		flags := must(t, time.Minute, "rpm", "-qp", "--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]", pkg)
		if !strings.Contains(flags, "cn /etc/ecs-keyagent/config.toml\n") {
			t.Errorf("%s: config.toml is not %%config(noreplace):\n%s", name, flags)
		}
		if !strings.Contains(flags, "l /usr/share/licenses/ecs-keyagent/LICENSE\n") {
			t.Errorf("%s: LICENSE is not %%license:\n%s", name, flags)
		}
		if !strings.Contains(flags, "d /usr/share/doc/ecs-keyagent/README.md\n") {
			t.Errorf("%s: README.md is not %%doc:\n%s", name, flags)
		}
		scripts := must(t, time.Minute, "rpm", "-qp", "--scripts", pkg)
		for _, want := range []string{"postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet",
			"systemctl --no-reload preset", "restore-sshd", "try-restart", "rm -rf /var/lib/ecs-keyagent"} {
			if !strings.Contains(scripts, want) {
				t.Errorf("%s: scripts lack %q:\n%s", name, want, scripts)
			}
		}
		if arch != rpmArch() {
			continue
		}
		root := t.TempDir()
		must(t, time.Minute, "rpm", "--root", root, "--initdb")
		must(t, time.Minute, "rpm", "-i", "--root", root, "--nodeps", "--noscripts", pkg)
		for _, f := range rpmFiles {
			if _, err := os.Stat(filepath.Join(root, f)); err != nil {
				t.Errorf("after rpm -i --root: %v", err)
			}
		}
		if fi, err := os.Stat(filepath.Join(root, "usr/bin/ecs-keyagent")); err == nil && fi.Mode().Perm() != 0o755 {
			t.Errorf("/usr/bin/ecs-keyagent mode %v, want 0755", fi.Mode())
		}
		if got := must(t, time.Minute, "rpm", "--root", root, "-q", "--qf", "%{NAME} %{VERSION}", "ecs-keyagent"); !strings.HasPrefix(got, "ecs-keyagent ") {
			t.Errorf("rpm -q in the scratch root: %q", got)
		}
		if v := os.Getenv("E2E_PKG_VERSION"); v != "" {
			if got := must(t, time.Minute, "rpm", "-qp", "--qf", "%{VERSION}", pkg); got != v {
				t.Errorf("%s: version %q, want %q", name, got, v)
			}
		}
		// One version for both: the binary's is the package's VERSION.
		version := must(t, time.Minute, "rpm", "-qp", "--qf", "%{VERSION}", pkg)
		if got := must(t, time.Minute, filepath.Join(root, "usr/bin/ecs-keyagent"), "version"); !strings.HasPrefix(got, "ecs-keyagent "+version+" (") {
			t.Errorf("%s: ecs-keyagent version = %q, want %s, the package's version", name, got, version)
		}
	}
}

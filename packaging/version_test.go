package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// TestVersion runs version.sh in a scratch repository through the states a
// build meets, and checks that dpkg orders the results as they were made.
func TestVersion(t *testing.T) {
	agenttest.MustHaveCommands(t, "git")
	script, err := filepath.Abs("version.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	commit := func() { git("commit", "-q", "--allow-empty", "-m", "c") }
	git("init", "-q")
	var seen []string
	for _, tt := range []struct {
		name  string
		setup func()
		want  string // a regular expression
	}{
		{name: "no tag", setup: commit, want: `^0\.0\.0~git1\.g[0-9a-f]{7,}$`},
		{name: "no tag, dirty", setup: func() { os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); git("add", "f") }, want: `^0\.0\.0~git1\.g[0-9a-f]{7,}\.dirty$`},
		{name: "no tag, later", setup: func() { git("commit", "-q", "-m", "f") }, want: `^0\.0\.0~git2\.g[0-9a-f]{7,}$`},
		{name: "release candidate", setup: func() { commit(); git("tag", "v1.0.0-rc1") }, want: `^1\.0\.0~rc1$`},
		{name: "release", setup: func() { commit(); git("tag", "v1.0.0") }, want: `^1\.0\.0$`},
		{name: "after a release", setup: commit, want: `^1\.0\.0\+git1\.g[0-9a-f]{7,}$`},
		{name: "further", setup: func() { commit(); commit() }, want: `^1\.0\.0\+git3\.g[0-9a-f]{7,}$`},
	} {
		tt.setup()
		cmd := exec.Command("sh", script)
		cmd.Dir = dir
		out, err := cmd.Output()
		got := strings.TrimSpace(string(out))
		if err != nil || !regexp.MustCompile(tt.want).MatchString(got) {
			t.Errorf("%s: version.sh = %q (%v), want %s", tt.name, got, err, tt.want)
		}
		if tt.name != "no tag, dirty" {
			seen = append(seen, got)
		}
	}
	for i := 1; i < len(seen); i++ {
		a, b := seen[i-1], seen[i]
		if _, err := exec.LookPath("dpkg"); err == nil {
			if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
				t.Errorf("dpkg orders %q after %q", a, b)
			}
		}
		if _, err := exec.LookPath("rpm"); err == nil {
			out, err := exec.Command("rpm", "--eval", `%{lua: print(rpm.vercmp("`+a+`", "`+b+`"))}`).Output()
			if err != nil || strings.TrimSpace(string(out)) != "-1" {
				t.Errorf("rpm orders %q after %q (vercmp %q, %v)", a, b, out, err)
			}
		}
	}
}

// TestMakeVersion checks that the Makefile stamps the binary with the
// package version: `make version`, the -X main.version of `make build`
// and of the packages' binaries, and the version nfpm and the changelog
// are given are all version.sh's output (the packages add -1).
func TestMakeVersion(t *testing.T) {
	agenttest.MustHaveCommands(t, "git", "make")
	out, err := exec.Command("sh", "version.sh").Output()
	if err != nil {
		t.Fatalf("version.sh: %v", err)
	}
	v := strings.TrimSpace(string(out))
	runMake := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("make", append([]string{"-s", "--no-print-directory", "-C", ".."}, args...)...)
		// as CI runs it: no VERSION in the environment to override the Makefile's
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "VERSION=") {
				cmd.Env = append(cmd.Env, e)
			}
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("make %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	if got := strings.TrimSpace(runMake("version")); got != v {
		t.Errorf("make version = %q, want version.sh's %q", got, v)
	}
	stamp := "-X main.version=" + v + "'"
	for _, l := range strings.Split(runMake("-n", "build"), "\n") {
		if strings.Contains(l, "./cmd/ecs-keyagent") && !strings.Contains(l, stamp) {
			t.Errorf("make build does not stamp %q:\n%s", stamp, l)
		}
	}
	pkg := runMake("-n", "deb", "PKG_ARCHES=amd64")
	for _, want := range []string{stamp, "PKG_VERSION='" + v + "' PKG_RELEASE='1'", "changelog.sh '" + v + "-1'", "-version " + v + " "} {
		if !strings.Contains(pkg, want) {
			t.Errorf("make -n deb lacks %q:\n%s", want, pkg)
		}
	}
}

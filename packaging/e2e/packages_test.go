//go:build e2e

package e2e

import (
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// maxExposure is the ceiling we hold the unit's
// systemd-analyze security score; the README records the current score.
const maxExposure = 3.0

var exposure = regexp.MustCompile(`Overall exposure level for ecs-keyagent\.service: ([0-9.]+)`)

// TestUnitSecurity scores the unit file offline, as CI can without a
// running systemd.
func TestUnitSecurity(t *testing.T) {
	prereq(t, "systemd-analyze")
	unitFile := filepath.Join(repoRoot, "systemd/ecs-keyagent.service")
	r := run(time.Minute, "systemd-analyze", "security", "--offline=true", unitFile)
	m := exposure.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("systemd-analyze security: no overall score\n%s", r)
	}
	score, _ := strconv.ParseFloat(m[1], 64)
	t.Logf("systemd-analyze security --offline=true: exposure %.1f (ceiling %.1f)", score, maxExposure)
	if score > maxExposure {
		t.Errorf("exposure %.1f > %.1f:\n%s", score, maxExposure, r.stdout)
	}
}

// TestMaintainerScripts checks every script with sh -n and shellcheck.
func TestMaintainerScripts(t *testing.T) {
	prereq(t, "shellcheck")
	scripts, _ := filepath.Glob(filepath.Join(repoRoot, "packaging/scripts/*/*"))
	scripts = append(scripts, filepath.Join(repoRoot, "packaging/version.sh"))
	if len(scripts) != 7 {
		t.Fatalf("found %d scripts, want 6 maintainer scripts and version.sh", len(scripts))
	}
	for _, s := range scripts {
		t.Run(filepath.Base(filepath.Dir(s))+"/"+filepath.Base(s), func(t *testing.T) {
			if r := run(time.Minute, "sh", "-n", s); r.err != nil {
				t.Errorf("sh -n: %s", r)
			}
			if r := run(time.Minute, "shellcheck", "-s", "sh", s); r.err != nil {
				t.Errorf("shellcheck: %s", r)
			}
		})
	}
}

// TestManPage renders the generated page and wants no groff warnings.
func TestManPage(t *testing.T) {
	prereq(t, "groff")
	f, err := os.Open(filepath.Join(distDir(), "man/ecs-keyagent.8.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd := exec.Command("groff", "-man", "-ww", "-Tutf8")
	cmd.Stdin, cmd.Stderr = strings.NewReader(string(page)), &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("groff -man -ww: %v\n%s", err, stderr.String())
	}
	text := regexp.MustCompile(".\b").ReplaceAllString(string(out), "")
	for _, want := range []string{"COMMANDS", "restore-sshd", "poll_interval", "EXIT STATUS", "/var/lib/ecs-keyagent/state.json",
		"EXAMPLES", "TROUBLESHOOTING", "# BEGIN ecs-keyagent managed keys: edits inside this block are overwritten",
		"/run/ecs-keyagent/failure.json", "journalctl -u ecs-keyagent"} {
		if !strings.Contains(text, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
}

// debFiles is what the .deb installs, directories left out.
var debFiles = []string{
	"./etc/ecs-keyagent/config.toml",
	"./lib/systemd/system/ecs-keyagent.service",
	"./usr/bin/ecs-keyagent",
	"./usr/share/bash-completion/completions/ecs-keyagent",
	"./usr/share/doc/ecs-keyagent/README.md",
	"./usr/share/doc/ecs-keyagent/changelog.Debian.gz",
	"./usr/share/doc/ecs-keyagent/copyright",
	"./usr/share/man/man8/ecs-keyagent.8.gz",
	"./usr/share/zsh/vendor-completions/_ecs-keyagent",
}

// TestDebLayout checks both architectures' .deb: files, conffiles, scripts,
// the changelog's version, and that the binary reports the package's
// version.
func TestDebLayout(t *testing.T) {
	prereq(t, "dpkg-deb")
	for _, arch := range []string{"amd64", "arm64"} {
		deb := dist(t, "ecs-keyagent_*_"+arch+".deb")
		list := must(t, time.Minute, "sh", "-c", "dpkg-deb --fsys-tarfile \"$1\" | tar -t", "sh", deb)
		var files []string
		for _, f := range strings.Split(list, "\n") {
			if f != "" && !strings.HasSuffix(f, "/") {
				files = append(files, f)
			}
		}
		slices.Sort(files)
		if !slices.Equal(files, debFiles) {
			t.Errorf("%s installs %q, want %q", filepath.Base(deb), files, debFiles)
		}
		if got := must(t, time.Minute, "dpkg-deb", "-f", deb, "Architecture"); strings.TrimSpace(got) != arch {
			t.Errorf("%s: Architecture %q, want %s", filepath.Base(deb), got, arch)
		}
		version := strings.TrimSpace(must(t, time.Minute, "dpkg-deb", "-f", deb, "Version"))
		if v := os.Getenv("E2E_PKG_VERSION"); v != "" && version != v+"-1" {
			t.Errorf("%s: Version %q, want %q", filepath.Base(deb), version, v+"-1")
		}
		cl := extract(t, deb, "./usr/share/doc/ecs-keyagent/changelog.Debian.gz")
		zr, err := gzip.NewReader(strings.NewReader(cl))
		if err != nil {
			t.Fatalf("%s: changelog.Debian.gz: %v", filepath.Base(deb), err)
		}
		text, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: changelog.Debian.gz: %v", filepath.Base(deb), err)
		}
		if first, _, _ := strings.Cut(string(text), "\n"); !strings.HasPrefix(first, "ecs-keyagent ("+version+") ") {
			t.Errorf("%s: changelog starts %q, want the package's version %s", filepath.Base(deb), first, version)
		}
		if arch == debArch() {
			// One version for both: the binary's is the package's without
			// the Debian release.
			bin := filepath.Join(t.TempDir(), "ecs-keyagent")
			if err := os.WriteFile(bin, []byte(extract(t, deb, "./usr/bin/ecs-keyagent")), 0o755); err != nil {
				t.Fatal(err)
			}
			upstream := version[:strings.LastIndex(version, "-")]
			if got := must(t, time.Minute, bin, "version"); !strings.HasPrefix(got, "ecs-keyagent "+upstream+" (") {
				t.Errorf("%s: ecs-keyagent version = %q, want %s, the package's version without -1", filepath.Base(deb), got, upstream)
			}
		}
		ctrl := t.TempDir()
		must(t, time.Minute, "dpkg-deb", "-e", deb, ctrl)
		if got := readFile(t, filepath.Join(ctrl, "conffiles")); got != "/etc/ecs-keyagent/config.toml\n" {
			t.Errorf("%s conffiles = %q", filepath.Base(deb), got)
		}
		for _, s := range []string{"postinst", "prerm", "postrm"} {
			if fi, err := os.Stat(filepath.Join(ctrl, s)); err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("%s: %s missing or not 0755: %v", filepath.Base(deb), s, err)
			}
		}
	}
}

// extract returns one file of a .deb's data.
func extract(t *testing.T, deb, path string) string {
	t.Helper()
	return must(t, time.Minute, "sh", "-c", "dpkg-deb --fsys-tarfile \"$1\" | tar -xO \"$2\"", "sh", deb, path)
}

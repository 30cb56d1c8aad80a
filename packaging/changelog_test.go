package packaging

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// changelog runs changelog.sh and returns the compressed and the plain text.
func changelog(t *testing.T, epoch, version string, src ...string) (gz []byte, text string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "changelog.Debian.gz")
	cmd := exec.Command("sh", append([]string{"changelog.sh", version, out}, src...)...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+epoch, "LC_ALL=de_DE.UTF-8", "TZ=Asia/Shanghai")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("changelog.sh: %v\n%s", err, b)
	}
	gz, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return gz, string(plain)
}

// parseChangelog runs dpkg-parsechangelog, which reads deb-changelog(5) as
// dpkg does and warns about anything malformed.
func parseChangelog(t *testing.T, text string, args ...string) string {
	t.Helper()
	cmd := exec.Command("dpkg-parsechangelog", append([]string{"-l", "-"}, args...)...)
	cmd.Stdin = strings.NewReader(text)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("dpkg-parsechangelog: %v\n%s\n%s", err, stderr.String(), text)
	}
	return string(out)
}

// nfpmMaintainer is the maintainer the packages declare.
func nfpmMaintainer(t *testing.T) string {
	t.Helper()
	y, err := os.ReadFile("nfpm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^maintainer: *(.+)$`).FindSubmatch(y)
	if m == nil {
		t.Fatal("nfpm.yaml: no maintainer")
	}
	return string(m[1])
}

// TestChangelog builds the changelog for a snapshot version and checks it
// with dpkg's own parser: the version, the date of SOURCE_DATE_EPOCH in
// UTC whatever the locale and time zone, the packages' maintainer, and
// change lines of at most 80 characters, as lintian wants them.
func TestChangelog(t *testing.T) {
	agenttest.MustHaveCommands(t, "dpkg-parsechangelog")
	_, text := changelog(t, "1764633600", "1.2.3+git4.gabc1234-1")
	fields := parseChangelog(t, text)
	for _, want := range []string{
		"Source: ecs-keyagent\n",
		"Version: 1.2.3+git4.gabc1234-1\n",
		"Distribution: unstable\n",
		"Maintainer: " + nfpmMaintainer(t) + "\n",
		"Date: Tue, 02 Dec 2025 00:00:00 +0000\n",
		"Timestamp: 1764633600\n",
	} {
		if !strings.Contains(fields, want) {
			t.Errorf("dpkg-parsechangelog lacks %q:\n%s", want, fields)
		}
	}
	if regexp.MustCompile(`@[A-Z]+@`).MatchString(text) {
		t.Errorf("a placeholder is left:\n%s", text)
	}
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "  ") && len(l) > 80 {
			t.Errorf("line %d is %d characters, over 80 (lintian: debian-changelog-line-too-long): %q", i+1, len(l), l)
		}
	}
}

// TestChangelogReproducible checks that the same inputs give the same
// bytes, and that gzip recorded neither a file name nor a time (-n) and
// used its best compression (-9), as Debian Policy asks.
func TestChangelogReproducible(t *testing.T) {
	a, _ := changelog(t, "1764633600", "1.0.0-1")
	b, _ := changelog(t, "1764633600", "1.0.0-1")
	if !bytes.Equal(a, b) {
		t.Errorf("two builds differ")
	}
	zr, err := gzip.NewReader(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	if h := zr.Header; h.Name != "" || !h.ModTime.IsZero() {
		t.Errorf("gzip header records name %q, time %v; want neither (gzip -n)", h.Name, h.ModTime)
	}
	if a[8] != 2 { // XFL: 2 is "maximum compression"
		t.Errorf("gzip XFL = %d, want 2 (gzip -9)", a[8])
	}
}

// TestChangelogRelease checks a release build: when the source has an
// entry for the version (written when it was tagged), the placeholder
// entry is left out and the released entries are kept as they are.
func TestChangelogRelease(t *testing.T) {
	agenttest.MustHaveCommands(t, "dpkg-parsechangelog")
	src, err := os.ReadFile("changelog")
	if err != nil {
		t.Fatal(err)
	}
	released := "ecs-keyagent (1.0.0-1) unstable; urgency=medium\n\n  * First release.\n\n -- " +
		nfpmMaintainer(t) + "  Mon, 01 Dec 2025 10:00:00 +0000\n"
	path := filepath.Join(t.TempDir(), "changelog")
	if err := os.WriteFile(path, append(append(src, '\n'), released...), 0o644); err != nil {
		t.Fatal(err)
	}

	_, text := changelog(t, "1764633600", "1.0.0-1", path)
	if text != released {
		t.Errorf("release build: changelog =\n%s\nwant only the released entry:\n%s", text, released)
	}
	_, text = changelog(t, "1764633600", "1.0.0+git1.gabc1234-1", path)
	versions := regexp.MustCompile(`(?m)^Version: (.*)$`).FindAllStringSubmatch(parseChangelog(t, text, "--format", "rfc822", "--all"), -1)
	if len(versions) != 2 || versions[0][1] != "1.0.0+git1.gabc1234-1" || versions[1][1] != "1.0.0-1" {
		t.Errorf("snapshot after the release: versions %q, want the snapshot's then 1.0.0-1", versions)
	}
}

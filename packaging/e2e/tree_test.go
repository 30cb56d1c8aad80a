//go:build e2e

package e2e

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The tree the container boots: minbase Debian 12 with systemd, dbus and
// openssh-server, the least that boots under systemd-nspawn with sshd. Bump treeVersion when the arguments change, so a stale cache is
// not used.
const (
	suite       = "bookworm"
	treeVersion = "v1"
	include     = "systemd,systemd-sysv,openssh-server,dbus"
)

// cacheDir keeps the debootstrapped tree between runs on one machine.
func cacheDir() string {
	if d := os.Getenv("E2E_CACHE"); d != "" {
		return d
	}
	return "/var/cache/ecs-keyagent-e2e"
}

// freshTree returns a new copy of the cached Debian 12 tree in a temporary
// directory, building the cache first if there is none. The tarball keeps
// numeric owners, so the copy is the tree debootstrap made.
func freshTree(t *testing.T) string {
	t.Helper()
	tarball := filepath.Join(cacheDir(), "debian12-minbase-"+treeVersion+".tar")
	if _, err := os.Stat(tarball); err != nil {
		buildCache(t, tarball)
	}
	dir := filepath.Join(t.TempDir(), "tree")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, 5*time.Minute, "tar", "-C", dir, "--numeric-owner", "-xpf", tarball)
	return dir
}

// buildCache runs debootstrap (about 35-45 s) and stores the tree as a tar.
func buildCache(t *testing.T, tarball string) {
	t.Helper()
	mirror := aptMirror(t)
	t.Logf("no cached tree at %s: debootstrap %s from %s", tarball, suite, mirror)
	if err := os.MkdirAll(cacheDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	build := tarball + ".build"
	os.RemoveAll(build)
	defer os.RemoveAll(build)
	must(t, 15*time.Minute, "debootstrap", "--variant=minbase", "--include="+include, suite, build, mirror)
	must(t, 5*time.Minute, "tar", "-C", build, "--numeric-owner", "-cf", tarball+".tmp", ".")
	if err := os.Rename(tarball+".tmp", tarball); err != nil {
		t.Fatal(err)
	}
}

// aptMirror is the Debian mirror this machine's own apt uses for the suite
// (E2E_MIRROR overrides it): read from /etc/apt/sources.list (one-line
// format) and /etc/apt/sources.list.d/*.sources (deb822), never hard-coded.
func aptMirror(t *testing.T) string {
	t.Helper()
	if m := os.Getenv("E2E_MIRROR"); m != "" {
		return m
	}
	if m := mirrorOneLine("/etc/apt/sources.list"); m != "" {
		return m
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		if m := mirrorDeb822(f); m != "" {
			return m
		}
	}
	t.Fatalf("find a Debian mirror for %s in this machine's apt sources: none (set E2E_MIRROR)", suite)
	return ""
}

// mirrorOneLine reads "deb [options] URI SUITE COMPONENT..." lines.
func mirrorOneLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") {
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) > 0 {
				f = f[1:]
			}
		}
		if len(f) >= 2 && f[1] == suite {
			return f[0]
		}
	}
	return ""
}

// mirrorDeb822 reads stanzas with Types, URIs and Suites fields.
func mirrorDeb822(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, stanza := range strings.Split(string(data), "\n\n") {
		fields := map[string][]string{}
		for _, l := range strings.Split(stanza, "\n") {
			k, v, ok := strings.Cut(l, ":")
			if ok && !strings.HasPrefix(l, "#") {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.Fields(v)
			}
		}
		if slices.Contains(fields["types"], "deb") && slices.Contains(fields["suites"], suite) && len(fields["uris"]) > 0 {
			return fields["uris"][0]
		}
	}
	return ""
}

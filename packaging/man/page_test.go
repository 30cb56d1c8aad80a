package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
	"github.com/ecs-keyagent/ecs-keyagent/keys"
)

// TestPage generates the page as `make man` does, from this tree's binary,
// README and template, and renders it with groff, which must not warn
// (-ww: every warning). A README edit that removes what the page takes
// from it, or a command line on the page the binary does not accept, fails
// here rather than at packaging time.
func TestPage(t *testing.T) {
	agenttest.MustHaveCommands(t, "go", "groff")
	dir := t.TempDir()
	bin := filepath.Join(dir, "ecs-keyagent")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/ecs-keyagent")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "ecs-keyagent.8")
	if err := run([]string{"-bin", bin, "-readme", "../../README.md", "-template", "ecs-keyagent.8.in",
		"-version", "1.2.3", "-date", "2026-12-01", "-o", out}); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd := exec.Command("groff", "-man", "-ww", "-Tutf8", "-rLL=80n", out)
	cmd.Stderr = &stderr
	text, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("groff -man -ww: %v\n%s", err, stderr.String())
	}
	// Undo the terminal's bold and underline (x BACKSPACE x).
	page := string(text)
	for strings.Contains(page, "\b") {
		i := strings.Index(page, "\b")
		page = page[:i-1] + page[i+1:]
	}
	for _, want := range []string{
		"\nEXAMPLES\n", "\nFILES\n", "\nTROUBLESHOOTING\n", "Permission denied (publickey)",
		"\n           " + keys.BeginMarker + "\n", "\n           " + keys.EndMarker + "\n",
		"/run/ecs-keyagent/failure.json", "/run/ecs-keyagent/last-sync", "00-ecs-keyagent.conf",
		"journalctl -u ecs-keyagent", "systemctl status ecs-keyagent", "ecs-keyagent doctor --key",
		"restore-sshd --root /mnt/image", "ecs-keyagent 1.2.3",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("rendered page:\n%s", page)
	}
}

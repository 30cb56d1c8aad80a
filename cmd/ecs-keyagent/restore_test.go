package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
)

// fakeUnit makes unitRunning answer running for the test, recording the
// units asked about.
func fakeUnit(t *testing.T, running bool) *[]string {
	t.Helper()
	var asked []string
	old := unitRunning
	unitRunning = func(_ context.Context, unit string) (bool, error) {
		asked = append(asked, unit)
		return running, nil
	}
	t.Cleanup(func() { unitRunning = old })
	return &asked
}

// TestServiceWouldUndo: the service is asked about only on the running
// system, and counts only when its modes would write sshd again.
func TestServiceWouldUndo(t *testing.T) {
	keep, platform := config.Default(), config.Default()
	keep.SSHD.PasswordAuthentication, keep.SSHD.KeyboardInteractive = sshd.Keep, sshd.Keep
	mixed := keep
	mixed.SSHD.KeyboardInteractive = sshd.Disable
	for _, tt := range []struct {
		name    string
		root    string
		cfg     config.Config
		running bool
		want    bool
		asks    bool
	}{
		{"running, platform", "/", platform, true, true, true},
		{"running, one mode disable", "/", mixed, true, true, true},
		{"running, both keep", "/", keep, true, false, false},
		{"stopped", "/", platform, false, false, true},
		{"another root", "/srv/image", platform, true, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			asked := fakeUnit(t, tt.running)
			got, err := serviceWouldUndo(context.Background(), tt.root, tt.cfg)
			if err != nil || got != tt.want {
				t.Errorf("serviceWouldUndo = %v, %v; want %v", got, err, tt.want)
			}
			if (len(*asked) > 0) != tt.asks || tt.asks && (*asked)[0] != "ecs-keyagent.service" {
				t.Errorf("asked systemd about %q; want a question: %v", *asked, tt.asks)
			}
		})
	}
}

// TestRestoreRefusesWhileServiceRuns: with the service running in platform
// mode, restore-sshd exits 1 with the hint and touches nothing; --dry-run
// still shows the plan and notes the refusal. The configuration points
// sshd at a file that does not exist, so that even a wrong answer here
// cannot change this machine's sshd.
func TestRestoreRefusesWhileServiceRuns(t *testing.T) {
	fakeUnit(t, true)
	dir := t.TempDir()
	conf := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(conf, []byte("[sshd]\nconfig = \""+filepath.Join(dir, "no-sshd/sshd_config")+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	status := Run(context.Background(), []string{"restore-sshd", "--config", conf}, &stdout, &stderr, nil)
	if status != exitFailed || stdout.Len() != 0 {
		t.Errorf("restore-sshd = %d, stdout %q; want 1 and nothing done", status, stdout.String())
	}
	for _, want := range []string{
		`ecs-keyagent: error: restore-sshd: ecs-keyagent.service is running with [sshd] password_authentication = "platform" and keyboard_interactive = "platform" (` + conf + `)`,
		`ecs-keyagent: hint: set both to "keep" in ` + conf + ` and run 'systemctl reload ecs-keyagent'`,
		`or run 'systemctl stop ecs-keyagent' first`,
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr = %q, want %q", stderr.String(), want)
		}
	}

	stdout.Reset()
	stderr.Reset()
	status = Run(context.Background(), []string{"restore-sshd", "--config", conf, "--dry-run"}, &stdout, &stderr, nil)
	if status != exitOK || !strings.Contains(stdout.String(), "restore-sshd without --dry-run refuses until it is stopped") {
		t.Errorf("restore-sshd --dry-run = %d, stdout %q, stderr %q; want 0 and a note", status, stdout.String(), stderr.String())
	}
}

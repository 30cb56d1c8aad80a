package agent

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
)

var update = flag.Bool("update", false, "rewrite testdata/metrics.prom")

func ptr[T any](v T) *T { return &v }

// TestRenderMetrics compares the textfile with the golden one; label
// values are escaped as the exposition format wants.
func TestRenderMetrics(t *testing.T) {
	m := metrics{
		Version:     "v1.2.3-4-gabcdef",
		InstanceID:  "i-bp1example",
		ManagedKeys: map[string]int{"root": 2, "ecs-user": 1},
		PasswordOff: ptr(true),
		Start:       1700000000,
		Failures:    3,
		LastAttempt: time.Date(2023, 11, 14, 22, 20, 5, 250e6, time.UTC),
		LastSuccess: time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC),
	}
	got := renderMetrics(m)
	golden := filepath.Join("testdata", "metrics.prom")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("renderMetrics =\n%s\nwant (%s)\n%s", got, golden, want)
	}

	// What was written reads back (the next sync carries values over).
	back := parseMetrics(got)
	back.Version, back.LastAttempt = m.Version, m.LastAttempt // not read back
	if !reflect.DeepEqual(*back, m) {
		t.Errorf("parseMetrics(renderMetrics(m)) = %+v, want %+v", *back, m)
	}

	// Unknown values are left out, never written as a guess.
	sparse := string(renderMetrics(metrics{Version: "devel", Start: 1}))
	for _, absent := range []string{metricManagedKeys, metricPasswordOff} {
		if strings.Contains(sparse, absent) {
			t.Errorf("renderMetrics without %s wrote it:\n%s", absent, sparse)
		}
	}
	if !strings.Contains(sparse, metricLastSuccess+" 0\n") {
		t.Errorf("renderMetrics with no success known: want %s 0:\n%s", metricLastSuccess, sparse)
	}
}

// TestEscapeLabel: a label value from the metadata service or the
// configuration cannot break the line, or the file (the collector drops a
// file it cannot parse), and reads back as it was.
func TestEscapeLabel(t *testing.T) {
	for in, want := range map[string]string{
		"i-bp1example": `i-bp1example`,
		`a"b\c`:        `a\"b\\c`,
		"two\nlines":   `two\nlines`,
		"bad\xffutf8":  "bad\uFFFDutf8",
	} {
		got := escapeLabel(in)
		if got != want {
			t.Errorf("escapeLabel(%q) = %q, want %q", in, got, want)
		}
		line := metricInfo + `{instance_id="` + got + `",version="v"} 1`
		_, labels, value, ok := parseSample(line)
		if !ok || value != "1" || labels["instance_id"] != strings.ToValidUTF8(in, "\uFFFD") || labels["version"] != "v" {
			t.Errorf("parseSample(%q) = %q, %q, %v", line, labels, value, ok)
		}
	}
}

// TestNextMetrics: how the count and the carried values follow a series
// of syncs by the service and by hand.
func TestNextMetrics(t *testing.T) {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	ok := func(at time.Duration) *Report {
		return &Report{Time: t0.Add(at), Outcome: OutcomeOK, InstanceID: "i-1",
			Users: []UserReport{{User: "root", Added: []string{"a"}, Kept: []string{"b"}}},
			SSHD:  &sshd.Report{Users: []sshd.UserReport{{User: "root", PasswordAuthentication: "no", KbdInteractiveAuthentication: "no"}}}}
	}
	failed := func(at time.Duration) *Report {
		return &Report{Time: t0.Add(at), Outcome: OutcomeFailed, Error: "metadata: connection refused"}
	}
	oneShot := &Engine{opts: Options{Version: "v1", Config: config.Config{Users: []string{"root"}}}}
	started := t0.Add(-time.Hour)
	service := &Engine{opts: Options{Version: "v1", Config: config.Config{Users: []string{"root"}}, Started: started}}

	// The first one-shot sync starts the count.
	m := oneShot.nextMetrics(failed(0), nil)
	if m.Start != t0.Unix() || m.Failures != 1 || !m.LastSuccess.IsZero() || m.PasswordOff != nil || len(m.ManagedKeys) != 0 {
		t.Errorf("first failed one-shot sync: %+v", m)
	}
	// The next carries it on and, succeeding, records what it found.
	m = oneShot.nextMetrics(ok(time.Minute), &m)
	if m.Start != t0.Unix() || m.Failures != 1 || !m.LastSuccess.Equal(t0.Add(time.Minute)) ||
		m.ManagedKeys["root"] != 2 || m.PasswordOff == nil || !*m.PasswordOff || m.InstanceID != "i-1" {
		t.Errorf("one-shot sync after a failure: %+v", m)
	}
	// The service, started later, counts from 0 and keeps the last success.
	prev := m
	m = service.nextMetrics(failed(2*time.Minute), &prev)
	if m.Start != started.Unix() || m.Failures != 1 || !m.LastSuccess.Equal(prev.LastSuccess) {
		t.Errorf("service's first sync: %+v, previous %+v", m, prev)
	}
	// A failed sync carries over what it did not find out.
	if m.InstanceID != "i-1" || m.ManagedKeys["root"] != 2 || m.PasswordOff == nil || !*m.PasswordOff {
		t.Errorf("failed sync did not carry the last values over: %+v", m)
	}
	// A sync by hand while the service runs adds to the service's count,
	// and the service's next sync keeps it.
	m = oneShot.nextMetrics(failed(3*time.Minute), &m)
	m = service.nextMetrics(ok(4*time.Minute), &m)
	if m.Start != started.Unix() || m.Failures != 2 {
		t.Errorf("after a failed sync by hand: %+v, want 2 failures since the service started", m)
	}

	// A user whose file could not be handled keeps its last count; one
	// with password login still on turns the gauge to 0.
	r := ok(5 * time.Minute)
	r.Users = append(r.Users, UserReport{User: "bob", Error: "refuse /home/bob/.ssh: it is a symbolic link"})
	r.SSHD.Users = append(r.SSHD.Users, sshd.UserReport{User: "bob", PasswordAuthentication: "yes", KbdInteractiveAuthentication: "no"})
	prev = m
	prev.ManagedKeys = map[string]int{"root": 2, "bob": 1}
	m = service.nextMetrics(r, &prev)
	if m.ManagedKeys["bob"] != 1 || *m.PasswordOff {
		t.Errorf("user failed, bob's password on: %+v", m)
	}
	// No sshd at all: nothing the agent turned off.
	r = ok(6 * time.Minute)
	r.SSHD = &sshd.Report{Skipped: "no sshd configuration at /etc/ssh/sshd_config"}
	if m = service.nextMetrics(r, &m); m.PasswordOff == nil || *m.PasswordOff {
		t.Errorf("no sshd: password_logon_disabled = %v, want 0", m.PasswordOff)
	}
}

// TestWriteMetrics writes the textfile in a tree like Debian's: the file is
// 0644 whatever the umask, no temporary file is left, and a failure to
// write is a warning.
func TestWriteMetrics(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "var/lib/prometheus/node-exporter")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ".ecs_keyagent.prom.ecs-keyagent-0123456789abcdef")
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	cfg := config.Default()
	cfg.MetricsTextfile = "/var/lib/prometheus/node-exporter/ecs_keyagent.prom"
	e := &Engine{opts: Options{Root: root, Config: cfg, Logger: zap.New(core), Version: "v1"}}
	old := syscall.Umask(0o077)
	e.writeMetrics(&Report{Time: time.Now(), Outcome: OutcomeFailed})
	syscall.Umask(old)
	fi, err := os.Stat(filepath.Join(dir, "ecs_keyagent.prom"))
	if err != nil {
		t.Fatalf("no textfile: %v (logs %v)", err, logs.All())
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("textfile mode %v, want 0644 under umask 0077", fi.Mode().Perm())
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file still there: %v", err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "ecs_keyagent.prom"))
	if !strings.Contains(string(data), metricFailures+" 1\n") {
		t.Errorf("textfile:\n%s\nwant 1 failure", data)
	}
	// A second failure counts on from the file.
	e.writeMetrics(&Report{Time: time.Now(), Outcome: OutcomeFailed})
	data, _ = os.ReadFile(filepath.Join(dir, "ecs_keyagent.prom"))
	if !strings.Contains(string(data), metricFailures+" 2\n") {
		t.Errorf("textfile:\n%s\nwant 2 failures", data)
	}

	// No such directory: a warning that says what to do; a dry run writes nothing.
	e.opts.Config.MetricsTextfile = "/var/lib/missing/ecs_keyagent.prom"
	e.writeMetrics(&Report{Time: time.Now(), Outcome: OutcomeOK})
	warned := logs.FilterMessage("metrics not written").All()
	if len(warned) != 1 || !strings.Contains(warned[0].ContextMap()["error"].(string), "directory /var/lib/missing does not exist: install the node exporter") {
		t.Errorf("missing directory: logs %v, want one warning naming the directory", logs.All())
	}
	e.opts.Config.MetricsTextfile = "/var/lib/prometheus/node-exporter/dry.prom"
	e.opts.DryRun = true
	e.writeMetrics(&Report{Time: time.Now(), Outcome: OutcomeOK})
	if _, err := os.Stat(filepath.Join(dir, "dry.prom")); !os.IsNotExist(err) {
		t.Errorf("a dry run wrote the textfile: %v", err)
	}
}

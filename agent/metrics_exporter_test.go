package agent

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
)

// nodeExporters are the node exporter's names: Debian's package
// (prometheus-node-exporter) and upstream's binary.
var nodeExporters = []string{"prometheus-node-exporter", "node_exporter"}

// TestNodeExporterReadsMetrics writes the textfile as a sync does, under
// the unit's umask, in a tree laid out as Debian's (/var/lib/prometheus
// owned by prometheus), and has the real node exporter serve it: run on
// loopback with only its textfile collector, as the prometheus user when
// the test runs as root, and asked for /metrics over HTTP. The exporter
// must parse the file (node_textfile_scrape_error 0), serve every metric
// with the values written, and ignore a temporary file of ours.
func TestNodeExporterReadsMetrics(t *testing.T) {
	bin := ""
	for _, name := range nodeExporters {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		agenttest.SkipOrFail(t, "needs the node exporter (Debian package prometheus-node-exporter)")
	}

	root := t.TempDir()
	dir := filepath.Join(root, "var/lib/prometheus/node-exporter")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var cred *syscall.Credential
	if u, err := user.Lookup("prometheus"); err == nil && os.Geteuid() == 0 {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(filepath.Dir(dir), uid, gid); err != nil {
			t.Fatal(err)
		}
		// t.TempDir's directories are 0700: let the exporter's user in.
		for p := root; p != filepath.Dir(filepath.Dir(root)); p = filepath.Dir(p) {
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}

	cfg := config.Default()
	cfg.MetricsTextfile = "/var/lib/prometheus/node-exporter/ecs_keyagent.prom"
	e := &Engine{opts: Options{Root: root, Config: cfg, Version: "v1.2.3", Started: time.Unix(1700000000, 0), Logger: zaptest.NewLogger(t)}}
	at := time.Date(2024, 5, 6, 7, 8, 9, 500e6, time.UTC)
	r := &Report{Time: at, Outcome: OutcomeOK, InstanceID: `i-bp1"example`,
		Users: []UserReport{{User: "root", Added: []string{"SHA256:a"}, Kept: []string{"SHA256:b"}}, {User: "ecs-user", Kept: []string{"SHA256:b"}}},
		SSHD: &sshd.Report{Users: []sshd.UserReport{
			{User: "root", PasswordAuthentication: "no", KbdInteractiveAuthentication: "no"},
			{User: "ecs-user", PasswordAuthentication: "no", KbdInteractiveAuthentication: "no"}}}}
	old := syscall.Umask(0o077) // the unit's UMask
	e.writeMetrics(r)
	r.Outcome, r.Time = OutcomeFailed, at.Add(30*time.Second)
	e.writeMetrics(r)
	syscall.Umask(old)
	// A temporary file of ours, as a sync caught mid-write leaves it: not
	// *.prom, so the exporter must not read it.
	if err := os.WriteFile(filepath.Join(dir, ".ecs_keyagent.prom.ecs-keyagent-0123456789abcdef"), []byte("ecs_keyagent_info{"), 0o600); err != nil {
		t.Fatal(err)
	}

	body := scrapeNodeExporter(t, bin, dir, cred)
	want := map[string]float64{
		`node_textfile_scrape_error`:                                       0,
		`ecs_keyagent_info{instance_id="i-bp1\"example",version="v1.2.3"}`: 1,
		`ecs_keyagent_managed_keys{user="ecs-user"}`:                       1,
		`ecs_keyagent_managed_keys{user="root"}`:                           2,
		`ecs_keyagent_password_logon_disabled`:                             1,
		`ecs_keyagent_start_time_seconds`:                                  1700000000,
		`ecs_keyagent_sync_failures_total`:                                 1,
		`ecs_keyagent_sync_last_attempt_timestamp_seconds`:                 float64(at.Add(30*time.Second).UnixMilli()) / 1e3,
		`ecs_keyagent_sync_last_success_timestamp_seconds`:                 float64(at.UnixMilli()) / 1e3,
	}
	got := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		series, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if _, wanted := want[series]; wanted {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Errorf("%s: value %q: %v", series, value, err)
			}
			got[series] = v
		}
	}
	for series, v := range want {
		if g, ok := got[series]; !ok || g != v {
			t.Errorf("node exporter serves %s = %v (present %v), want %v", series, g, ok, v)
		}
	}
	for _, typ := range []string{"# TYPE ecs_keyagent_sync_failures_total counter", "# TYPE ecs_keyagent_info gauge"} {
		if !strings.Contains(body, typ+"\n") {
			t.Errorf("node exporter's /metrics has no %q", typ)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

// scrapeNodeExporter runs the node exporter on a free loopback port with
// only the textfile collector reading dir, and returns its /metrics.
func scrapeNodeExporter(t *testing.T, bin, dir string, cred *syscall.Credential) string {
	t.Helper()
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		var logs bytes.Buffer
		cmd := exec.Command(bin, "--web.listen-address="+addr, "--collector.disable-defaults", "--collector.textfile",
			"--collector.textfile.directory="+dir, "--web.disable-exporter-metrics", "--log.level=warn")
		cmd.Stdout, cmd.Stderr = &logs, &logs
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }() //nolint:errcheck // killed below
		body, err := fetchMetrics("http://"+addr+"/metrics", exited)
		cmd.Process.Kill()
		<-exited
		if err == nil {
			return body
		}
		t.Logf("attempt %d: %v; node exporter said:\n%s", attempt+1, err, logs.String())
	}
	t.Fatal("the node exporter never served /metrics")
	return ""
}

// fetchMetrics asks url until it answers 200, for up to 10 s, or until the
// exporter exits (its port was taken in between).
func fetchMetrics(url string, exited <-chan struct{}) (string, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	end := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			return "", fmt.Errorf("node exporter exited")
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && rerr == nil {
				return string(b), nil
			}
			err = fmt.Errorf("GET %s: %s %v", url, resp.Status, rerr)
		}
		if time.Now().After(end) {
			return "", err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

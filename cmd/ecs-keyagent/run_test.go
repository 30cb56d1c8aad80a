package main

import (
	"bytes"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

// deadline bounds every wait; the test asserts outcomes, not speed.
const deadline = agenttest.Deadline

// TestRunSignals runs `ecs-keyagent run` as a real process under a fake
// NOTIFY_SOCKET and sends it real signals: READY=1 after the first sync,
// SIGHUP syncs now (the poll interval is an hour), SIGTERM and SIGINT
// stop it with exit status 0 and STOPPING=1.
func TestRunSignals(t *testing.T) {
	for _, stop := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(stop.String(), func(t *testing.T) { testRunSignals(t, stop) })
	}
}

func testRunSignals(t *testing.T, stop syscall.Signal) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })

	tree := agenttest.NewRoot(t)
	alice := tree.AddUser("alice")
	tree.WriteFile("etc/ecs-keyagent/config.toml", "poll_interval = \"1h\"\n", 0o644, -1, -1)
	root := tree.Dir
	imds := emulator.New()
	hs := httptest.NewServer(imds)
	defer hs.Close()
	k1, k2 := agenttest.KeyLine(t, ""), agenttest.KeyLine(t, "")
	imds.SetKeys(emulator.Key{ID: "skp-1", Body: k1})

	notes := agenttest.ListenNotify(t)
	var stderr bytes.Buffer
	cmd := exec.Command("ecs-keyagent", "run", "--root", root, "--endpoint", hs.URL, "--user", "alice")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notes.Path)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr.String())
		}
	}()

	notes.WaitFor(t, "READY=1")
	file := tree.KeysFile(alice)
	if got := readFile(t, file); !strings.Contains(got, k1) {
		t.Fatalf("at READY=1 authorized_keys = %q, want %q", got, k1)
	}

	imds.SetKeys(emulator.Key{ID: "skp-2", Body: k2})
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(deadline); !strings.Contains(readFile(t, file), k2); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("after SIGHUP authorized_keys = %q, want %q", readFile(t, file), k2)
		}
	}

	if err := cmd.Process.Signal(stop); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("after %v: %v, want exit status 0", stop, err)
		}
	case <-time.After(deadline):
		t.Fatalf("still running after %v", stop)
	}
	notes.WaitFor(t, "STOPPING=1")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

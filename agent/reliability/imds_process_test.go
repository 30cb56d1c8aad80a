package reliability

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

// emulatorEnv makes the test binary serve the emulator; see TestEmulatorProcess.
const emulatorEnv = "ECS_KEYAGENT_RELIABILITY_EMULATOR"

// imdsProcess is the metadata emulator served by a process of its own, on
// two loopback ports with the same state: url for the one-shot syncs and
// serviceURL for the service, so that what the emulator sees on url is the
// syncs' exchanges alone.
//
// The load scenario needs it: a Go process that starts a hundred children
// at once can stop running its other goroutines for seconds. os/exec starts
// a child with clone(CLONE_VFORK) outside the runtime's system call
// bookkeeping, so the calling thread keeps its P (the runtime's right to
// run Go code) until the child has called execve, and with many children
// starting on busy CPUs every P can be held that way. A heartbeat goroutine
// in a program starting 100 children at once missed up to 3.3 s, with the
// garbage collector off as well; starting them one at a time, 0.23 s. An
// emulator in the test process answered nothing for up to 3 s at the start
// of a round, and the sync holding the lock failed its 2 s request limit
// against a metadata service that had stopped, which the real one, on
// another machine, does not.
type imdsProcess struct {
	t               testing.TB
	url, serviceURL string
	pid             int
}

// startIMDSProcess runs the test binary as an emulator (TestEmulatorProcess)
// and returns its handle; it stops when the test ends.
func startIMDSProcess(t testing.TB) *imdsProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEmulatorProcess$", "-test.timeout=0")
	cmd.Env = append(os.Environ(), emulatorEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close() // the emulator exits at EOF
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	urls, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	f := strings.Fields(urls)
	if err != nil || !ok || len(f) != 2 {
		t.Fatalf("emulator process: first line %q, %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	return &imdsProcess{t: t, url: f[0], serviceURL: f[1], pid: cmd.Process.Pid}
}

// SetKeys binds keys through the emulator's control API.
func (p *imdsProcess) SetKeys(keys ...emulator.Key) {
	p.t.Helper()
	body, err := json.Marshal(keys)
	must(p.t, err)
	req, err := http.NewRequest(http.MethodPut, p.url+"/emulator/keys", bytes.NewReader(body))
	must(p.t, err)
	resp, err := http.DefaultClient.Do(req)
	must(p.t, err)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		p.t.Fatalf("emulator process: PUT keys: %s: %s", resp.Status, msg)
	}
}

// longestPause is the longest the emulator waited, on url, for a sync's
// next request: from accepting its connection or from its last answer.
// The sync's request limit runs during such a wait.
func (p *imdsProcess) longestPause() time.Duration {
	p.t.Helper()
	resp, err := http.Get(p.url + pausePath)
	must(p.t, err)
	defer resp.Body.Close()
	var ns int64
	must(p.t, json.NewDecoder(resp.Body).Decode(&ns))
	return time.Duration(ns)
}

// pausePath answers longestPause; it is outside the metadata paths.
const pausePath = "/reliability/longest-pause"

// pauses wraps the emulator on the syncs' port and times the waits between
// a connection's requests.
type pauses struct {
	h       http.Handler
	mu      sync.Mutex
	last    map[string]time.Time // per connection: accepted, or last answer sent
	longest time.Duration
}

func (p *pauses) connState(c net.Conn, s http.ConnState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch s {
	case http.StateNew:
		p.last[c.RemoteAddr().String()] = time.Now()
	case http.StateClosed, http.StateHijacked:
		delete(p.last, c.RemoteAddr().String())
	}
}

func (p *pauses) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == pausePath {
		p.mu.Lock()
		d := p.longest
		p.mu.Unlock()
		json.NewEncoder(w).Encode(int64(d))
		return
	}
	p.mu.Lock()
	if t, ok := p.last[r.RemoteAddr]; ok && !strings.HasPrefix(r.URL.Path, "/emulator/") {
		p.longest = max(p.longest, time.Since(t))
	}
	p.mu.Unlock()
	p.h.ServeHTTP(w, r)
	p.mu.Lock()
	if _, ok := p.last[r.RemoteAddr]; ok {
		p.last[r.RemoteAddr] = time.Now()
	}
	p.mu.Unlock()
}

// TestEmulatorProcess is not a test: startIMDSProcess runs the test binary
// with it to serve the metadata emulator on loopback until its stdin closes.
func TestEmulatorProcess(t *testing.T) {
	if os.Getenv(emulatorEnv) != "1" {
		t.Skip("serves the emulator for startIMDSProcess only")
	}
	emu := emulator.New()
	p := &pauses{h: emu, last: map[string]time.Time{}}
	syncs := &http.Server{Handler: p, ConnState: p.connState, ReadHeaderTimeout: 10 * time.Second}
	service := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	var urls []string
	for _, srv := range []*http.Server{syncs, service} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		go srv.Serve(ln)
		urls = append(urls, "http://"+ln.Addr().String())
	}
	fmt.Printf("listening on %s %s\n", urls[0], urls[1])
	io.Copy(io.Discard, os.Stdin)
	syncs.Close()
	service.Close()
}

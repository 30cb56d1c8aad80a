package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// full reports whether the scenarios run at full counts.
func full() bool { return os.Getenv("ECS_KEYAGENT_RELIABILITY") == "full" }

// scale picks the full count or the small one CI runs.
func scale(fullN, shortN int) int {
	if full() {
		return fullN
	}
	return shortN
}

// needRoot skips a test that needs root, except in CI, where it must run.
func needRoot(t *testing.T) {
	t.Helper()
	agenttest.MustHaveRoot(t, "mounts, files owned by test users")
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	hasRunCmd bool
)

// agentBin builds cmd/ecs-keyagent once per test run (not in TestMain, so
// `go test -list` stays quick) and returns its path.
func agentBin(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ecs-keyagent-reliability-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ecs-keyagent")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/ecs-keyagent/ecs-keyagent/cmd/ecs-keyagent").CombinedOutput()
		if err != nil {
			buildErr = errors.New("go build: " + err.Error() + ": " + string(out))
			return
		}
		// The service command may not exist yet; soak and load use it when it does.
		help, _ := exec.Command(binPath, "run", "-h").CombinedOutput()
		hasRunCmd = !bytes.Contains(help, []byte("unknown command")) && bytes.Contains(help, []byte("-root"))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// outcome is what one ecs-keyagent process did.
type outcome struct {
	status   int // exit status; -1 killed by a signal
	signaled bool
	stdout   string
	stderr   string
	elapsed  time.Duration
	end      time.Time     // when Wait returned
	cpu      time.Duration // user+system time, from the child's rusage
	maxRSS   int64         // KiB, peak VmHWM sampled from /proc
}

// runAgent runs ecs-keyagent with args and waits, at most limit,
// sampling its peak memory.
func runAgent(t testing.TB, limit time.Duration, args ...string) outcome {
	t.Helper()
	return runAgentSampled(t, limit, true, args...)
}

func runAgentSampled(t testing.TB, limit time.Duration, sample bool, args ...string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBin(t), args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	var hwm int64
	err := cmd.Start()
	if err == nil && !sample {
		err = cmd.Wait()
	} else if err == nil {
		done := make(chan struct{})
		sampled := make(chan int64)
		go func() { sampled <- sampleHWM(cmd.Process.Pid, done) }()
		err = cmd.Wait()
		close(done)
		hwm = <-sampled
	}
	end := time.Now()
	o := outcome{stdout: stdout.String(), stderr: stderr.String(), elapsed: end.Sub(start), end: end}
	if ctx.Err() != nil {
		o.status, o.signaled = -1, true
		o.stderr += "\n(killed: no exit within " + limit.String() + ")"
		return o
	}
	fillOutcome(&o, cmd.ProcessState, err)
	o.maxRSS = hwm
	return o
}

// sampleHWM polls the peak resident set (VmHWM) of pid until done and
// returns the largest value seen, in KiB. The rusage of a child is no use
// here: Linux counts in its ru_maxrss the parent's memory it shared until
// exec (Go starts children with CLONE_VM), so it reports the test process.
// A process that lives under a millisecond may show 0.
func sampleHWM(pid int, done <-chan struct{}) int64 {
	var peak int64
	path := fmt.Sprintf("/proc/%d/status", pid)
	for {
		if kb := statusField(path, "VmHWM:"); kb > peak {
			peak = kb
		}
		select {
		case <-done:
			return peak
		case <-time.After(500 * time.Microsecond):
		}
	}
}

// statusField reads one "Name:   N kB" field of a /proc status file; 0 if absent.
func statusField(path, name string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(l, name); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

func fillOutcome(o *outcome, ps *os.ProcessState, err error) {
	if ps == nil {
		o.status = -2
		o.stderr += "\n(start: " + err.Error() + ")"
		return
	}
	o.status = ps.ExitCode()
	o.cpu = ps.UserTime() + ps.SystemTime()
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		o.signaled = true
	}
}

// errorLine reports whether stderr carries the one-line error a person reads.
// A partial result (exit status 3) is said as a warning, a failure as an
// error: either is the one line that says what went wrong.
func (o outcome) errorLine() bool {
	return strings.Contains(o.stderr, "ecs-keyagent: error: ") || strings.Contains(o.stderr, "ecs-keyagent: warning: ")
}

// record is one row of docs/reliability.md.
type record struct {
	Scenario string            `json:"scenario"`
	Runs     int               `json:"runs"`
	Faults   int               `json:"faults"`
	Failures int               `json:"failures"`
	Outside  int64             `json:"bytes_outside"`
	Lost     int               `json:"data_lost"`
	Figures  map[string]string `json:"figures,omitempty"`
	Skipped  string            `json:"skipped,omitempty"`
	Full     bool              `json:"full"`

	mu sync.Mutex
	t  *testing.T
}

// newRecord starts a scenario's row; it is written when the test ends.
func newRecord(t *testing.T, scenario string) *record {
	r := &record{Scenario: scenario, Figures: map[string]string{}, Full: full(), t: t}
	t.Cleanup(r.write)
	return r
}

func (r *record) run()   { r.mu.Lock(); r.Runs++; r.mu.Unlock() }
func (r *record) fault() { r.mu.Lock(); r.Faults++; r.mu.Unlock() }

func (r *record) figure(name, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Figures[name] = value
}

// fail counts a failure and reports it.
func (r *record) fail(format string, args ...any) {
	r.t.Helper()
	r.mu.Lock()
	r.Failures++
	r.mu.Unlock()
	r.t.Errorf(format, args...)
}

// lost counts a lost or half-written file and reports it.
func (r *record) lost(format string, args ...any) {
	r.t.Helper()
	r.mu.Lock()
	r.Lost++
	r.Failures++
	r.mu.Unlock()
	r.t.Errorf(format, args...)
}

// outside counts bytes written outside the allowed paths and reports them.
func (r *record) outside(n int64, format string, args ...any) {
	r.t.Helper()
	r.mu.Lock()
	r.Outside += n
	r.Failures++
	r.mu.Unlock()
	r.t.Errorf(format, args...)
}

func (r *record) write() {
	if r.t.Skipped() && r.Skipped == "" {
		r.Skipped = "skipped"
	}
	if r.t.Failed() && r.Failures == 0 {
		r.Failures = 1 // a fatal setup error still shows in the row
	}
	p := os.Getenv("ECS_KEYAGENT_RELIABILITY_RESULTS")
	if p == "" {
		return
	}
	r.mu.Lock()
	line, err := json.Marshal(r)
	r.mu.Unlock()
	if err != nil {
		r.t.Errorf("encode results: %v", err)
		return
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		r.t.Errorf("open results: %v", err)
		return
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		r.t.Errorf("write results: %v", err)
	}
}

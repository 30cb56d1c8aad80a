package systemd

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// listen opens a real unixgram socket as NOTIFY_SOCKET, as systemd does.
func listen(t *testing.T) *agenttest.Notify {
	t.Helper()
	n := agenttest.ListenNotify(t)
	t.Setenv("NOTIFY_SOCKET", n.Path)
	return n
}

func TestNotifier(t *testing.T) {
	notes := listen(t)
	var n Notifier
	tests := []struct {
		name string
		send func()
		want string
	}{
		{"ready", n.Ready, "READY=1"},
		{"status", func() { n.Status("root: 1 key\nsecond line") }, "STATUS=root: 1 key second line"},
		{"watchdog", n.Watchdog, "WATCHDOG=1"},
		{"stopping", n.Stopping, "STOPPING=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.send()
			if got := notes.Next(t); got != tt.want {
				t.Errorf("notification = %q, want %q", got, tt.want)
			}
		})
	}
}

// RELOADING=1 carries MONOTONIC_USEC, the monotonic clock now.
func TestReloading(t *testing.T) {
	notes := listen(t)
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	before := ts.Nano() / 1000
	Notifier{}.Reloading()
	got := notes.Next(t)
	rest, ok := strings.CutPrefix(got, "RELOADING=1\nMONOTONIC_USEC=")
	usec, err := strconv.ParseInt(rest, 10, 64)
	if !ok || err != nil || usec < before {
		t.Errorf("Reloading sent %q, want RELOADING=1 and MONOTONIC_USEC at or after %d", got, before)
	}
}

func TestStatusBounded(t *testing.T) {
	notes := listen(t)
	Notifier{}.Status(strings.Repeat("é", 1000))
	got := notes.Next(t)
	if len(got) > len("STATUS=")+maxStatus || !strings.HasSuffix(got, "…") {
		t.Errorf("long status: got %d bytes ending %q, want at most %d ending in …", len(got), got[len(got)-8:], maxStatus)
	}
	if !strings.HasPrefix(got, "STATUS=éé") || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("long status cut inside a character: %q", got[:20])
	}
}

// Outside systemd every call is a silent no-op.
func TestNotifierOutsideSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	var n Notifier
	n.Ready()
	n.Status("x")
	n.Watchdog()
	n.Stopping()
	n.Reloading()
}

func TestWatchdogInterval(t *testing.T) {
	tests := []struct {
		name, usec, pid string
		want            time.Duration
	}{
		{"unset", "", "", 0},
		{"set", "4000000", "", 4 * time.Second},
		{"for another process", "4000000", "1", 0},
		{"malformed", "soon", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tt.usec)
			t.Setenv("WATCHDOG_PID", tt.pid)
			if got := WatchdogInterval(); got != tt.want {
				t.Errorf("WatchdogInterval() with WATCHDOG_USEC=%q WATCHDOG_PID=%q = %v, want %v", tt.usec, tt.pid, got, tt.want)
			}
		})
	}
}

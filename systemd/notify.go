package systemd

import (
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// maxStatus bounds a STATUS= line: systemctl shows one line, and a
// datagram must stay well below the socket's limits.
const maxStatus = 512

// Notifier sends sd_notify(3) messages to the socket in NOTIFY_SOCKET,
// read when each message is sent. The zero value is ready to use; without
// NOTIFY_SOCKET every method does nothing.
//
// Errors are dropped on purpose: sd_notify(3) says a service should carry
// on when a notification cannot be delivered, and there is nobody to tell.
type Notifier struct{}

// Ready sends READY=1: start-up is finished, units ordered after us may start.
func (Notifier) Ready() { send(daemon.SdNotifyReady) }

// Reloading sends RELOADING=1 with MONOTONIC_USEC, the CLOCK_MONOTONIC time
// in microseconds that sd_notify(3) asks for with it: the service is
// re-reading its configuration. READY=1 ends the reload.
func (Notifier) Reloading() {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return
	}
	send(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", ts.Nano()/1000))
}

// Status sends STATUS= with one human line; newlines become spaces.
func (Notifier) Status(line string) { send("STATUS=" + oneLine(line)) }

// Watchdog sends WATCHDOG=1, keeping the service's watchdog from firing.
func (Notifier) Watchdog() { send(daemon.SdNotifyWatchdog) }

// Stopping sends STOPPING=1: the service is shutting down.
func (Notifier) Stopping() { send(daemon.SdNotifyStopping) }

func send(state string) {
	// false: keep NOTIFY_SOCKET, we notify more than once.
	daemon.SdNotify(false, state) //nolint:errcheck // see Notifier
}

// WatchdogInterval returns WatchdogSec as systemd passes it (WATCHDOG_USEC,
// for this process per WATCHDOG_PID), or 0 when no watchdog is set or the
// variables are malformed. The service should ping at half of it
// (sd_watchdog_enabled(3)).
func WatchdogInterval() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return d
}

func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxStatus {
		s = strings.ToValidUTF8(s[:maxStatus-len("…")], "") + "…"
	}
	return s
}

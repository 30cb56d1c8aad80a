// Package systemd is the agent's small glue to systemd: readiness, status,
// watchdog and stopping notifications over sd_notify(3), and a zap core that
// writes native journal entries. Outside systemd (no NOTIFY_SOCKET, no
// JOURNAL_STREAM) every part is a silent no-op or not chosen, so the same
// binary runs by hand, in tests and in containers without systemd.
//
// It wraps github.com/coreos/go-systemd/v22 behind the few calls the agent
// makes, so the rest of the agent depends on small interfaces of its own.
package systemd

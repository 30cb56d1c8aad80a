package service

import (
	"context"
	"time"
)

// beat records that the loop came round; the watchdog pings only while it
// keeps doing so.
func (s *service) beat() {
	s.beatMu.Lock()
	s.lastBeat = time.Now()
	s.beatMu.Unlock()
}

// pingWatchdog sends WATCHDOG=1 at half of WatchdogSec (sd_watchdog_enabled(3))
// while the loop has come round within that half: a wedged loop stops the
// pings and systemd restarts the service.
func (s *service) pingWatchdog(stop context.Context) {
	half := max(s.o.Watchdog/2, time.Millisecond)
	t := time.NewTicker(half)
	defer t.Stop()
	for {
		select {
		case <-stop.Done():
			return
		case now := <-t.C:
			s.beatMu.Lock()
			healthy := now.Sub(s.lastBeat) < half
			s.beatMu.Unlock()
			if healthy {
				s.o.Notifier.Watchdog()
			}
		}
	}
}

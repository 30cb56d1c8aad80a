package agent

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// maxDriftFight is how many drift syncs in a row may write before the
// next ones are spaced out.
const maxDriftFight = 3

// sync runs one sync and plans the next: a poll interval (±10 %) after a
// sync that reached the metadata service, a backoff step after one that
// did not.
//
// "Reached" means the engine got past the metadata fetch, which is when it
// visits users: a report with per-user results. A failure on a user's
// file (unsafe mode, a damaged block) still counts as reached: retrying
// every 250 ms cannot fix it, the file watch sees the fix, and boot must
// not wait on it. A lock or metadata failure does not count.
func (d *daemon) sync(stop context.Context, next *time.Timer, drift bool) {
	if stop.Err() != nil {
		return
	}
	// Watch before reading: a change after the engine read a file is then
	// always seen. The watch on a ~/.ssh this sync creates is added when
	// its Create event arrives.
	d.refreshWatches(true)
	r := d.syncOnce(stop)
	now := time.Now()
	reached := len(r.Users) > 0 || r.Outcome != OutcomeFailed
	if reached {
		d.retry.reset()
		d.status.good, d.status.goodAt, d.status.failing = r, now, 0
		next.Reset(jitter(d.poll))
		if !d.ready {
			d.ready = true
			d.o.Notifier.Ready()
			d.log.Info("ready", zap.String("outcome", r.Outcome), zap.String("instance_id", r.InstanceID))
		}
	} else {
		if d.status.failing == 0 {
			d.status.failedAt = now
		}
		d.status.failing++
		d.status.failErr = r.Error
		next.Reset(d.retry.next(d.poll))
		// The engine logs what it does to users; a failure before that
		// (lock, metadata) is the daemon's to report. Repeats are summarised.
		d.log.Warn("sync failed", zap.String("error", r.Error), zap.String("endpoint", r.Endpoint))
	}
	d.repeats.endCycle(now)
	// Our own write makes events too; the sync they cause finds nothing to
	// do and writes nothing, which ends it. Only a tool that rewrites the
	// file after each of our writes could keep this going: after a few
	// such rounds, space those syncs out, up to one per poll interval.
	switch changed := reportChanged(r); {
	case drift && changed:
		if d.driftFight++; d.driftFight > maxDriftFight {
			d.driftDelay = min(2*d.driftDelay, max(d.poll, debounce))
		}
	case !changed:
		d.driftFight, d.driftDelay = 0, debounce
	}
	d.setStatus()
}

// syncOnce runs the engine under a context that a stop cancels only after
// stopGrace: the sync in progress at SIGTERM finishes.
func (d *daemon) syncOnce(stop context.Context) *Report {
	ctx, cancel := context.WithCancel(context.WithoutCancel(stop))
	defer cancel()
	release := context.AfterFunc(stop, func() {
		t := time.NewTimer(stopGrace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-ctx.Done():
		}
	})
	defer release()
	return d.eng.Sync(ctx)
}

func reportChanged(r *Report) bool {
	for _, u := range r.Users {
		if u.Changed {
			return true
		}
	}
	return r.SSHD != nil && len(r.SSHD.Changed) > 0
}

// refreshWatches points the file watch at the current users' files; all is
// false on an event, when only the missing watches need adding.
func (d *daemon) refreshWatches(all bool) {
	if d.watch == nil {
		return
	}
	var err error
	if all {
		var paths []string
		paths, err = d.eng.WatchPaths()
		if serr := d.watch.set(paths); err == nil {
			err = serr
		}
	} else {
		err = d.watch.refresh()
	}
	if err != nil {
		d.log.Warn("drift repair incomplete: cannot watch some files", zap.Error(err))
	}
}

// setStatus sends STATUS= when the line changed.
func (d *daemon) setStatus() {
	line := d.status.line(time.Now())
	if line != d.lastStatus {
		d.lastStatus = line
		d.o.Notifier.Status(line)
	}
}

// beat records that the loop came round; the watchdog pings only while it
// keeps doing so.
func (d *daemon) beat() {
	d.beatMu.Lock()
	d.lastBeat = time.Now()
	d.beatMu.Unlock()
}

// pingWatchdog sends WATCHDOG=1 at half of WatchdogSec (sd_watchdog_enabled(3))
// while the loop has come round within that half: a wedged loop stops the
// pings and systemd restarts the service.
func (d *daemon) pingWatchdog(stop context.Context) {
	half := max(d.o.Watchdog/2, time.Millisecond)
	t := time.NewTicker(half)
	defer t.Stop()
	for {
		select {
		case <-stop.Done():
			return
		case now := <-t.C:
			d.beatMu.Lock()
			healthy := now.Sub(d.lastBeat) < half
			d.beatMu.Unlock()
			if healthy {
				d.o.Notifier.Watchdog()
			}
		}
	}
}

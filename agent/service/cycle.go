package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
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
func (s *service) sync(ctx context.Context, next *time.Timer, drift bool) {
	if ctx.Err() != nil {
		return
	}
	// Watch before reading: a change after the engine read a file is then
	// always seen. The watch on a ~/.ssh this sync creates is added when
	// its Create event arrives.
	s.refreshWatches(true)
	r := s.syncOnce(ctx)
	now := time.Now()
	reached := r.Reached()
	if reached {
		s.retry.reset()
		s.status.good, s.status.goodAt, s.status.failing = r, now, 0
		next.Reset(jitter(s.cfg.PollInterval.Duration))
		if !s.ready {
			s.ready = true
			s.o.Notifier.Ready()
			s.log.Info("ready", zap.String("outcome", r.Outcome), zap.String("instance_id", r.InstanceID))
		}
	} else {
		if s.status.failing == 0 {
			s.status.failedAt = now
		}
		s.status.failing++
		s.status.failErr = r.Error
		next.Reset(s.retry.next(s.cfg.PollInterval.Duration))
		// The engine logs what it does to users; a failure before that
		// (lock, metadata) is the daemon's to report. Repeats are summarised.
		s.log.Warn("sync failed", zap.String("error", r.Error), zap.String("endpoint", r.Endpoint))
	}
	s.repeats.endCycle(now)
	// Our own write makes events too; the sync they cause finds nothing to
	// do and writes nothing, which ends it. Only a tool that rewrites the
	// file after each of our writes could keep this going: after a few
	// such rounds, space those syncs out, up to one per poll interval.
	switch changed := r.Changed(); {
	case drift && changed:
		if s.driftFight == 0 {
			s.fightSince = now
		}
		if s.driftFight++; s.driftFight > maxDriftFight {
			s.driftDelay = min(2*s.driftDelay, max(s.cfg.PollInterval.Duration, debounce))
		}
		if s.driftFight == maxDriftFight+1 {
			// Said once per fight: cloud-init, configuration management or a
			// vendor's repair tool rewriting the same file after every repair.
			s.log.Warn(fmt.Sprintf("another program keeps rewriting %s: repaired %d times in %s; repairs now wait up to one poll interval",
				strings.Join(changedFiles(r), ", "), s.driftFight, now.Sub(s.fightSince).Round(time.Millisecond)),
				zap.Strings("files", changedFiles(r)), zap.Int("repairs", s.driftFight))
		}
	case !changed:
		if s.driftFight > maxDriftFight {
			s.log.Info("the rewriting stopped: repairs are immediate again", zap.Int("repairs", s.driftFight))
		}
		s.driftFight, s.driftDelay = 0, debounce
	}
	s.setStatus()
}

// syncOnce runs the engine under a context that a stop cancels only after
// stopGrace: the sync in progress at SIGTERM finishes.
func (s *service) syncOnce(stop context.Context) *agent.Report {
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
	return s.eng.Sync(ctx)
}

// refreshWatches points the file watch at the current users' files; all is
// false on an event, when only the missing watches need adding.
func (s *service) refreshWatches(all bool) {
	if s.watch == nil {
		return
	}
	var err error
	if all {
		var paths []string
		paths, err = s.eng.WatchPaths()
		if serr := s.watch.set(paths); err == nil {
			err = serr
		}
	} else {
		err = s.watch.refresh()
	}
	if err != nil {
		s.log.Warn("drift repair incomplete: cannot watch some files", zap.Error(err))
	}
}

// setStatus sends STATUS= when the line changed.
func (s *service) setStatus() {
	line := s.status.line(time.Now())
	if line != s.lastStatus {
		s.lastStatus = line
		s.o.Notifier.Status(line)
	}
}

// changedFiles lists what a sync wrote: users' files and sshd's.
func changedFiles(r *agent.Report) []string {
	var out []string
	for _, u := range r.Users {
		if u.Changed {
			out = append(out, u.Path)
		}
	}
	if r.SSHD != nil {
		out = append(out, r.SSHD.Changed...)
	}
	return out
}

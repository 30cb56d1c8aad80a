package service

import (
	"context"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
)

const (
	// debounce gathers the burst of events one edit makes (an editor's
	// write, rename and chmod) into one sync, still "within about a second".
	debounce = 300 * time.Millisecond
	// stopGrace is how long a sync in progress at a stop may still wait on
	// the lock or the metadata service before its context is cancelled.
	// The engine waits on the context only before it writes (lock, HTTP);
	// the writes themselves take no context and always finish.
	stopGrace = time.Second
)

// Notifier carries the service's state to the service manager. The
// systemd package's Notifier is the real one; it does nothing outside
// systemd.
type Notifier interface {
	Ready()
	Reloading()
	Status(line string)
	Watchdog()
	Stopping()
}

// Options configure Run.
type Options struct {
	Engine     agent.Options                 // Config is the starting configuration; DryRun must be false
	LoadConfig func() (config.Config, error) // re-reads the configuration on a reload; nil keeps it
	Reload     <-chan struct{}               // a receive asks for a reload and a sync now (SIGHUP)
	Notifier   Notifier                      // nil: no service manager
	Watchdog   time.Duration                 // the unit's WatchdogSec; 0: no pings
}

// Run keeps the target users' authorized_keys and sshd in step with the
// metadata service until ctx is done, then returns nil; context.Cause(ctx)
// is logged as the reason for stopping.
func Run(ctx context.Context, o Options) error {
	return newService(o).run(ctx)
}

type service struct {
	o       Options
	log     *zap.Logger   // repeated warnings summarised
	repeats *repeatCore   // its core, told when a sync cycle ends
	eng     *agent.Engine // rebuilt on reload with the new configuration
	cfg     config.Config
	watch   *driftWatcher // nil when inotify is unavailable

	ready      bool
	retry      backoff
	driftDelay time.Duration // grows while drift syncs keep writing: a fight with another tool
	driftFight int           // drift syncs in a row that wrote something
	fightSince time.Time     // when the first of them ran
	status     status
	lastStatus string

	beatMu   sync.Mutex
	lastBeat time.Time

	hook func() // tests: called at the top of every loop iteration
}

func newService(o Options) *service {
	if o.Notifier == nil {
		o.Notifier = noNotifier{}
	}
	base := o.Engine.Logger
	if base == nil {
		base = zap.NewNop()
	}
	s := &service{o: o, driftDelay: debounce}
	s.log = base.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		s.repeats = newRepeatCore(c)
		return s.repeats
	}))
	s.setConfig(o.Engine.Config)
	return s
}

func (s *service) setConfig(cfg config.Config) {
	opts := s.o.Engine
	opts.Config, opts.Logger, opts.DryRun = cfg, s.log, false
	if s.eng != nil {
		s.eng.Close()
	}
	s.eng, s.cfg = agent.NewEngine(opts), cfg
}

func (s *service) run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	if s.o.Watchdog > 0 {
		wg.Go(func() { s.pingWatchdog(ctx) })
	}
	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	if w, err := newDriftWatcher(); err != nil {
		s.log.Warn("drift repair off: cannot watch files; polling only", zap.Error(err))
	} else {
		s.watch, events, watchErrs = w, w.w.Events, w.w.Errors
		defer w.close()
	}
	s.log.Info("running", zap.Strings("users", s.eng.Users()), zap.Stringer("endpoint", s.cfg.Endpoint),
		zap.Duration("poll_interval", s.cfg.PollInterval.Duration), zap.Duration("boot_timeout", s.cfg.BootTimeout.Duration))
	s.setStatus()

	boot := time.NewTimer(s.cfg.BootTimeout.Duration)
	next := time.NewTimer(0) // the boot sync: now
	drift := time.NewTimer(time.Hour)
	drift.Stop()
	defer func() { boot.Stop(); next.Stop(); drift.Stop() }()
	var beat <-chan time.Time
	if s.o.Watchdog > 0 {
		t := time.NewTicker(max(s.o.Watchdog/4, time.Millisecond))
		defer t.Stop()
		beat = t.C
	}
	for {
		s.beat()
		if s.hook != nil {
			s.hook()
		}
		select {
		case <-ctx.Done():
			s.eng.Close()
			s.o.Notifier.Stopping()
			s.log.Info("stopping", zap.NamedError("reason", context.Cause(ctx)))
			return nil
		case <-s.o.Reload:
			s.reload(ctx, next)
		case <-beat:
			s.setStatus()
		case <-boot.C:
			if !s.ready {
				s.ready = true
				s.o.Notifier.Ready()
				s.log.Warn("ready without a first sync: the metadata service did not answer within boot_timeout; still retrying",
					zap.Duration("boot_timeout", s.cfg.BootTimeout.Duration))
			}
		case <-next.C:
			s.sync(ctx, next, false)
			if s.ready {
				// Its end would wake the process for nothing.
				boot.Stop()
			}
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if s.watch.relevant(ev) {
				drift.Reset(s.driftDelay)
			}
			if ev.Has(fsnotify.Create) {
				s.refreshWatches(false) // a recreated ~/.ssh: watch it again
			}
		case err, ok := <-watchErrs:
			if !ok {
				watchErrs = nil
				continue
			}
			// Overflow loses events: sync now rather than trust the file.
			s.log.Warn("file watch", zap.Error(err))
			drift.Reset(s.driftDelay)
		case <-drift.C:
			s.sync(ctx, next, true)
		}
	}
}

// reload re-reads the configuration and syncs with it. The service manager
// hears RELOADING=1 first and READY=1 when the sync is done, so that
// `systemctl reload` reports the reload's end (sd_notify(3)).
func (s *service) reload(ctx context.Context, next *time.Timer) {
	wasReady := s.ready // before READY=1 systemd is still starting us: no reload to announce
	if wasReady {
		s.o.Notifier.Reloading()
	}
	if s.o.LoadConfig != nil {
		if cfg, err := s.o.LoadConfig(); err != nil {
			s.log.Error("configuration not reloaded; keeping the previous one", zap.Error(err))
		} else {
			s.setConfig(cfg)
			s.log.Info("configuration reloaded", zap.Strings("users", s.eng.Users()), zap.Stringer("endpoint", cfg.Endpoint),
				zap.Duration("poll_interval", cfg.PollInterval.Duration))
		}
	}
	s.sync(ctx, next, false)
	if wasReady {
		s.o.Notifier.Ready()
	}
}

type noNotifier struct{}

func (noNotifier) Ready()        {}
func (noNotifier) Reloading()    {}
func (noNotifier) Status(string) {}
func (noNotifier) Watchdog()     {}
func (noNotifier) Stopping()     {}

package agent

import (
	"context"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
)

const (
	// debounce gathers the burst of events one edit makes (an editor's
	// write, rename and chmod) into one sync, still "within about a second".
	debounce = 300 * time.Millisecond
	// stopGrace is how long a sync in progress at SIGTERM may still wait on
	// the lock or the metadata service before its context is cancelled.
	// The engine waits on the context only before it writes (lock, HTTP);
	// the writes themselves take no context and always finish.
	stopGrace = time.Second
)

// Notifier carries the daemon's state to the service manager. The
// systemd package's Notifier is the real one; it does nothing outside
// systemd.
type Notifier interface {
	Ready()
	Status(line string)
	Watchdog()
	Stopping()
}

// DaemonOptions configure RunDaemon.
type DaemonOptions struct {
	Engine     Options                       // Config is the starting configuration; DryRun must be false
	LoadConfig func() (config.Config, error) // re-reads the configuration on SIGHUP; nil keeps it
	Signals    <-chan os.Signal              // SIGHUP: reload and sync now; SIGTERM, SIGINT: stop
	Notifier   Notifier                      // nil: no service manager
	Watchdog   time.Duration                 // the service's WatchdogSec; 0: no pings
}

// RunDaemon keeps the target users' authorized_keys in step with the
// metadata service until ctx is cancelled or a stop signal arrives, then
// returns nil. See README "ecs-keyagent run" for the behaviour.
func RunDaemon(ctx context.Context, o DaemonOptions) error {
	return newDaemon(o).run(ctx)
}

type daemon struct {
	o       DaemonOptions
	log     *zap.Logger // repeated warnings summarised
	repeats *repeatCore // its core, told when a sync cycle ends
	eng     *Engine     // rebuilt on SIGHUP with the new configuration
	poll    time.Duration
	watch   *driftWatcher // nil when inotify is unavailable

	ready      bool
	retry      backoff
	driftDelay time.Duration // grows while drift syncs keep writing: a fight with another tool
	driftFight int           // drift syncs in a row that wrote something
	status     daemonStatus
	lastStatus string

	beatMu   sync.Mutex
	lastBeat time.Time

	hook func() // tests: called at the top of every loop iteration
}

func newDaemon(o DaemonOptions) *daemon {
	if o.Notifier == nil {
		o.Notifier = noNotifier{}
	}
	base := o.Engine.Logger
	if base == nil {
		base = zap.NewNop()
	}
	d := &daemon{o: o, driftDelay: debounce}
	d.log = base.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		d.repeats = newRepeatCore(c)
		return d.repeats
	}))
	d.setConfig(o.Engine.Config)
	return d
}

func (d *daemon) setConfig(cfg config.Config) {
	opts := d.o.Engine
	opts.Config, opts.Logger, opts.DryRun = cfg, d.log, false
	d.eng = NewEngine(opts)
	d.poll = cfg.PollInterval.Duration
}

func (d *daemon) run(ctx context.Context) error {
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	reload := make(chan struct{}, 1)
	wg.Go(func() { d.readSignals(stop, cancel, reload) })
	if d.o.Watchdog > 0 {
		wg.Go(func() { d.pingWatchdog(stop) })
	}
	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	if w, err := newDriftWatcher(); err != nil {
		d.log.Warn("drift repair off: cannot watch files; polling only", zap.Error(err))
	} else {
		d.watch, events, watchErrs = w, w.w.Events, w.w.Errors
		defer w.close()
	}
	cfg := d.eng.opts.Config
	d.log.Info("running", zap.Strings("users", cfg.Users), zap.String("endpoint", cfg.Endpoint),
		zap.Duration("poll_interval", d.poll), zap.Duration("boot_timeout", cfg.BootTimeout.Duration))
	d.setStatus()

	boot := time.NewTimer(cfg.BootTimeout.Duration)
	next := time.NewTimer(0) // the boot sync: now
	drift := time.NewTimer(time.Hour)
	drift.Stop()
	defer func() { boot.Stop(); next.Stop(); drift.Stop() }()
	var beat <-chan time.Time
	if d.o.Watchdog > 0 {
		t := time.NewTicker(max(d.o.Watchdog/4, time.Millisecond))
		defer t.Stop()
		beat = t.C
	}
	for {
		d.beat()
		if d.hook != nil {
			d.hook()
		}
		select {
		case <-stop.Done():
			d.o.Notifier.Stopping()
			d.log.Info("stopping")
			cancel()
			wg.Wait()
			return nil
		case <-reload:
			d.reload()
			d.sync(stop, next, false)
		case <-beat:
			d.setStatus()
		case <-boot.C:
			if !d.ready {
				d.ready = true
				d.o.Notifier.Ready()
				d.log.Warn("ready without a first sync: the metadata service did not answer within boot_timeout; still retrying",
					zap.Duration("boot_timeout", cfg.BootTimeout.Duration))
			}
		case <-next.C:
			d.sync(stop, next, false)
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if d.watch.relevant(ev) {
				drift.Reset(d.driftDelay)
			}
			if ev.Has(fsnotify.Create) {
				d.refreshWatches(false) // a recreated ~/.ssh: watch it again
			}
		case err, ok := <-watchErrs:
			if !ok {
				watchErrs = nil
				continue
			}
			// Overflow loses events: sync now rather than trust the file.
			d.log.Warn("file watch", zap.Error(err))
			drift.Reset(d.driftDelay)
		case <-drift.C:
			d.sync(stop, next, true)
		}
	}
}

// readSignals turns SIGHUP into a reload and SIGTERM/SIGINT into a stop.
// It runs beside the loop so that a stop is seen during a sync too.
func (d *daemon) readSignals(stop context.Context, cancel func(), reload chan<- struct{}) {
	for {
		select {
		case <-stop.Done():
			return
		case s := <-d.o.Signals:
			switch s {
			case syscall.SIGHUP:
				select {
				case reload <- struct{}{}:
				default: // one pending reload is enough
				}
			case syscall.SIGTERM, os.Interrupt:
				d.log.Info("signal received", zap.String("signal", s.String()))
				cancel()
				return
			}
		}
	}
}

func (d *daemon) reload() {
	if d.o.LoadConfig == nil {
		return
	}
	cfg, err := d.o.LoadConfig()
	if err != nil {
		d.log.Error("configuration not reloaded; keeping the previous one", zap.Error(err))
		return
	}
	d.setConfig(cfg)
	d.log.Info("configuration reloaded", zap.Strings("users", cfg.Users), zap.String("endpoint", cfg.Endpoint),
		zap.Duration("poll_interval", d.poll))
}

type noNotifier struct{}

func (noNotifier) Ready()        {}
func (noNotifier) Status(string) {}
func (noNotifier) Watchdog()     {}
func (noNotifier) Stopping()     {}

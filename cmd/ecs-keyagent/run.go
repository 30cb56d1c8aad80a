package main

import (
	"context"
	"flag"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/service"
	"github.com/ecs-keyagent/ecs-keyagent/systemd"
)

var runCmd = &command{
	name:  "run",
	usage: "[--config FILE] [--root DIR] [--endpoint URL] [--user NAME]...",
	short: "keep authorized_keys in step with the metadata service: the systemd service",
	examples: [][2]string{
		{"systemctl enable --now ecs-keyagent", "how the packages run it: as a systemd service"},
		{"sudo ecs-keyagent run --log-level debug", "run it in the foreground, logging each request and decision"},
	},
	run: runRun,
}

type runArgs struct {
	commonArgs
}

// runRun is the service: it returns nil once ctx ends (SIGTERM, SIGINT), and an
// error only for a bad command line or configuration at start.
func runRun(ctx context.Context, env *cliEnv, fs *flag.FlagSet, args []string) error {
	var a runArgs
	a.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := a.load()
	if err != nil {
		return err
	}
	log, err := env.logger("info")
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // nothing useful to do on stderr errors

	// The service runs one sync at a time and nothing in it runs in
	// parallel; with a second P, each hand-off between the sync, the HTTP
	// transport's goroutines and the netpoller wakes another thread
	// through a futex. One P took an idle poll's CPU time down by about a
	// sixth (docs/performance.md). GOMAXPROCS in the environment wins.
	if os.Getenv("GOMAXPROCS") == "" {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	}
	defer collectAtLimit(os.Getenv)()
	return service.Run(ctx, service.Options{
		Engine: agent.Options{Config: cfg, Root: a.root, Logger: log, Version: version, Started: time.Now()},
		// A reload reads the same file with the same command-line overrides.
		LoadConfig: func() (config.Config, error) { return a.load() },
		Reload:     env.reload,
		Notifier:   systemd.Notifier{},
		Watchdog:   systemd.WatchdogInterval(),
	})
}

// gcMemoryLimit is the service's soft limit on the Go runtime's memory, see
// collectAtLimit. The runtime's memory besides the heap is about 6-7 MiB in
// the service: with 4 or 6 MiB it collected several times a poll; with 8 MiB
// about every 43 polls, and the peak resident memory at a 1 s poll stays
// near 11 MiB (docs/performance.md, section 5). A sync whose live heap passes
// the limit (a user's file of many megabytes, when it changed) is slowed, not
// stopped: the runtime caps the collector at about half the CPU time then
// (gc-guide, "Memory limit").
const gcMemoryLimit = 8 << 20

// collectAtLimit turns off the collections the heap's growth and the
// runtime's clock start, and collects only when the Go runtime's memory
// approaches gcMemoryLimit (runtime/debug.SetGCPercent(-1) and
// SetMemoryLimit; https://go.dev/doc/gc-guide, "Memory limit"). An idle
// poll allocates about 20 KiB; with GOGC's default, once the first
// collection has run, the runtime forces another every two minutes
// whatever was allocated, and each wakes the process. With GOGC off the
// limit is the only bound, so the two go together, and either in the
// environment leaves both to it. It returns the settings' restorer.
func collectAtLimit(getenv func(string) string) (restore func()) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := debug.SetMemoryLimit(gcMemoryLimit)
	percent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}

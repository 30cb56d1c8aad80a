package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/systemd"
)

var runCmd = &command{
	name:  "run",
	usage: "[--config FILE] [--root DIR] [--endpoint URL] [--user NAME]...",
	short: "keep authorized_keys in step with the metadata service: the systemd service",
	run:   runRun,
}

type runArgs struct {
	commonArgs
}

// runRun is the service: it returns nil after SIGTERM or SIGINT, and an
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

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	return agent.RunDaemon(ctx, agent.DaemonOptions{
		Engine: agent.Options{Config: cfg, Root: a.root, Logger: log},
		// SIGHUP reads the same file with the same command-line overrides.
		LoadConfig: func() (config.Config, error) { return a.load() },
		Signals:    sigs,
		Notifier:   systemd.Notifier{},
		Watchdog:   systemd.WatchdogInterval(),
	})
}

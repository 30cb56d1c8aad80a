package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
	"github.com/ecs-keyagent/ecs-keyagent/systemd"
)

// restoreCmd undoes the agent's sshd changes. The packages run it when the
// package is purged (deb) or erased (rpm), after stopping the service: the
// sshd step in keep mode, which removes exactly the bytes the agent wrote,
// checks the result with sshd -t and reloads sshd if it runs, under the
// agent's lock like a sync. Keys in authorized_keys are left alone. While
// the service runs with a configuration that would write sshd again, it
// refuses rather than be undone at the service's next sync.
var restoreCmd = &command{
	name:  "restore-sshd",
	usage: "[--config FILE] [--root DIR] [--dry-run]",
	short: "remove the agent's sshd changes, restoring sshd's earlier configuration",
	examples: [][2]string{
		{"sudo systemctl stop ecs-keyagent && sudo ecs-keyagent restore-sshd", "give password login back by removing what the agent wrote"},
		{"sudo ecs-keyagent restore-sshd --root /mnt/image", "the same on an offline image"},
	},
	run: runRestore,
}

type restoreArgs struct {
	config, root string
	dryRun       bool
}

// agentUnit is the agent's own systemd unit.
const agentUnit = "ecs-keyagent.service"

func runRestore(ctx context.Context, env *cliEnv, fs *flag.FlagSet, args []string) error {
	var a restoreArgs
	fs.StringVar(&a.config, "config", "", "configuration `FILE` naming sshd's configuration (default /etc/ecs-keyagent/config.toml; under --root if absolute)")
	fs.StringVar(&a.root, "root", "/", "treat `DIR` as the filesystem root")
	fs.BoolVar(&a.dryRun, "dry-run", false, "show what would be removed or restored, as a unified diff, and write nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(a.root, a.config, nil)
	if err != nil {
		return err
	}
	log, err := env.logger("")
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // nothing useful to do on stderr errors
	full, _ := configPath(a.root, a.config)
	undo, err := serviceWouldUndo(ctx, a.root, cfg)
	if err != nil {
		// No answer from systemd must not block a package's purge.
		log.Warn("cannot tell whether "+agentUnit+" is running; restoring anyway", zap.Error(err))
	}
	if undo && !a.dryRun {
		env.restoreRefused(cfg, full)
		return exitError{status: exitFailed}
	}
	if !a.dryRun {
		unlock, err := agent.Lock(ctx, a.root, env.progress)
		if err != nil {
			return err
		}
		defer unlock() //nolint:errcheck // closing the lock's descriptor releases it
	}
	mainFile := cfg.SSHD.Config
	rep, err := sshd.Restore(ctx, sshd.Options{Root: a.root, Config: mainFile, Logger: log, DryRun: a.dryRun})
	printRestoreSSHD(env.stdout, rep, err, mainFile, a.dryRun)
	if undo {
		printRestoreWouldBeUndone(env.stdout, cfg)
	}
	if err != nil {
		return fmt.Errorf("restore-sshd: %w", err)
	}
	return nil
}

// serviceWouldUndo reports whether the agent's service runs with a
// configuration under which its next sync writes sshd's configuration
// again: either mode other than "keep". Only the running system has a
// service: under another --root, or where systemd is not the init system
// (no /run/systemd/system, as sd_booted(3) checks), it is false.
func serviceWouldUndo(ctx context.Context, root string, cfg config.Config) (bool, error) {
	if filepath.Clean(root) != "/" {
		return false, nil
	}
	if cfg.SSHD.PasswordAuthentication == sshd.Keep && cfg.SSHD.KeyboardInteractive == sshd.Keep {
		return false, nil
	}
	return unitRunning(ctx, agentUnit)
}

// unitRunning asks systemd over D-Bus whether unit is active, reloading
// or activating (a restart pending after a failure counts: it comes back).
// Tests replace it.
var unitRunning = func(ctx context.Context, unit string) (bool, error) {
	if !systemd.Booted() {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := systemd.State(ctx, unit)
	if err != nil {
		return false, err
	}
	s := st.ActiveState
	return s == "active" || s == "reloading" || s == "activating", nil
}

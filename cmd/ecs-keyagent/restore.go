package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
)

// restoreCmd undoes the agent's sshd changes. The packages run it when the
// package is purged (deb) or erased (rpm): the sshd step in keep mode, which
// removes exactly the bytes the agent wrote, checks the result with sshd -t
// and reloads sshd if it runs, under the agent's lock like a sync. Keys in
// authorized_keys are left alone.
var restoreCmd = &command{
	name:  "restore-sshd",
	usage: "[--config FILE] [--root DIR]",
	short: "remove the agent's sshd changes, restoring sshd's earlier configuration",
	examples: [][2]string{
		{"sudo systemctl stop ecs-keyagent && sudo ecs-keyagent restore-sshd", "give password login back by removing what the agent wrote"},
		{"sudo ecs-keyagent restore-sshd --root /mnt/image", "the same on an offline image"},
	},
	run: runRestore,
}

type restoreArgs struct {
	config, root string
}

func runRestore(ctx context.Context, env *cliEnv, fs *flag.FlagSet, args []string) error {
	var a restoreArgs
	fs.StringVar(&a.config, "config", "", "configuration `FILE` naming sshd's configuration (default /etc/ecs-keyagent/config.toml; under --root if absolute)")
	fs.StringVar(&a.root, "root", "/", "treat `DIR` as the filesystem root")
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
	unlock, err := agent.Lock(ctx, a.root)
	if err != nil {
		return err
	}
	defer unlock() //nolint:errcheck // closing the lock's descriptor releases it
	mainFile := cfg.SSHD.Config
	rep, err := sshd.Restore(ctx, sshd.Options{Root: a.root, Config: mainFile, Logger: log})
	printRestore(env.stdout, rep, err, mainFile)
	if err != nil {
		return fmt.Errorf("restore-sshd: %w", err)
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"

	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
)

// restoreCmd undoes the agent's sshd changes. The packages run it when the
// package is purged (deb) or erased (rpm): the sshd step in keep mode, which
// removes exactly the bytes the agent wrote, checks the result with sshd -t
// and reloads sshd if it runs. Keys in authorized_keys are left alone.
var restoreCmd = &command{
	name:  "restore-sshd",
	usage: "[--config FILE] [--root DIR]",
	short: "remove the agent's sshd changes, restoring sshd's earlier configuration",
	run:   runRestore,
}

type restoreArgs struct {
	config, root string
}

func runRestore(ctx context.Context, env *cliEnv, fs *flag.FlagSet, args []string) error {
	var a restoreArgs
	fs.StringVar(&a.config, "config", "", "configuration file naming sshd's configuration (default /etc/ecs-keyagent/config.toml; under --root if absolute)")
	fs.StringVar(&a.root, "root", "/", "treat `DIR` as the filesystem root")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(a.root, a.config)
	if err != nil {
		return err
	}
	log, err := env.logger("warn")
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // nothing useful to do on stderr errors
	mainFile := cfg.SSHD.Config
	if _, err := os.Lstat(filepath.Join(a.root, mainFile)); errors.Is(err, iofs.ErrNotExist) {
		// No openssh-server: nothing to restore, and never a reason to fail
		// a package removal.
		fmt.Fprintf(env.stdout, "sshd: nothing to restore: no sshd configuration at %s\n", mainFile)
		return nil
	}
	res, err := sshd.Apply(ctx, sshd.Options{
		Root:           a.root,
		Config:         mainFile,
		Password:       sshd.Keep,
		KbdInteractive: sshd.Keep,
		Logger:         log,
	})
	if len(res.Changed) == 0 && err == nil {
		fmt.Fprintf(env.stdout, "sshd: nothing to restore in %s\n", mainFile)
	}
	for _, f := range res.Changed {
		fmt.Fprintf(env.stdout, "sshd: restored %s\n", f)
	}
	if res.Reload != "" && len(res.Changed) > 0 {
		fmt.Fprintf(env.stdout, "sshd: %s\n", res.Reload)
	}
	if err != nil {
		return fmt.Errorf("restore-sshd: %w", err)
	}
	return nil
}

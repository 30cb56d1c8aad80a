package main

import (
	"context"
	"errors"
	"flag"
	iofs "io/fs"
	"os"
)

// checkConfigCmd loads the configuration exactly as `run` does and says
// whether it is good. The unit's ExecReload= runs it before signalling the
// service, so that `systemctl reload` fails on a bad file instead of the
// service logging it and keeping the old one.
var checkConfigCmd = &command{
	name:  "check-config",
	usage: "[--config FILE] [--root DIR]",
	short: "check the configuration file as run would load it; exit status 2 if it is bad",
	run:   runCheckConfig,
}

func runCheckConfig(_ context.Context, env *cliEnv, fs *flag.FlagSet, args []string) error {
	var a commonArgs
	fs.StringVar(&a.config, "config", "", "configuration `FILE` (default /etc/ecs-keyagent/config.toml; under --root if absolute)")
	fs.StringVar(&a.root, "root", "/", "treat `DIR` as the filesystem root")
	if err := parse(fs, args); err != nil {
		return err
	}
	full, _ := configPath(a.root, a.config)
	if _, err := loadConfig(a.root, a.config, nil); err != nil {
		env.configError(err, full)
		return exitError{status: exitUsage}
	}
	_, err := os.Stat(full)
	printConfigOK(env.stdout, full, !errors.Is(err, iofs.ErrNotExist))
	return nil
}

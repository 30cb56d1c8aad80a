package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
)

var syncCmd = &command{
	name:  "sync",
	usage: "[--config FILE] [--root DIR] [--endpoint URL] [--user NAME]... [--dry-run] [--json]",
	short: "make authorized_keys match the key pair bound in the instance metadata, once",
	examples: [][2]string{
		{"sudo ecs-keyagent sync", "install the bound key now and apply the password contract"},
		{"sudo ecs-keyagent sync --dry-run", "show what would change in authorized_keys, as a diff, and write nothing"},
	},
	run: runSync,
}

type syncArgs struct {
	commonArgs
	dryRun, json bool
}

func runSync(ctx context.Context, env *cliEnv, fs *flag.FlagSet, args []string) error {
	var a syncArgs
	a.register(fs)
	fs.BoolVar(&a.dryRun, "dry-run", false, "show the change as a unified diff and write nothing")
	fs.BoolVar(&a.json, "json", false, "print one JSON report instead of the summary")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := a.load()
	if err != nil {
		return err
	}
	log, err := env.logger("")
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // nothing useful to do on stderr errors
	eng := agent.NewEngine(agent.Options{Config: cfg, Root: a.root, DryRun: a.dryRun, Logger: log, Version: version, Progress: env.progress})
	defer eng.Close()
	r := eng.Sync(ctx)
	if a.json {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		printSummary(env.stdout, r)
	}
	switch r.Outcome {
	case agent.OutcomeFailed:
		err := r.Err()
		if err == nil {
			err = errors.New(r.Error)
		}
		return exitError{status: exitFailed, err: fmt.Errorf("sync: %w", err)}
	case agent.OutcomePartial:
		return exitError{status: exitPartial, warn: true, err: errors.New("sync: some keys were rejected; the others are installed")}
	}
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	iofs "io/fs"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
)

var statusCmd = &command{
	name:  "status",
	usage: "[--root DIR] [--json]",
	short: "show the last sync's result",
	run:   runStatus,
}

func runStatus(_ context.Context, env *cliEnv, fs *flag.FlagSet, args []string) error {
	var root string
	var asJSON bool
	fs.StringVar(&root, "root", "/", "treat `DIR` as the filesystem root")
	fs.BoolVar(&asJSON, "json", false, "print the state as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	r, err := agent.LoadState(root)
	if errors.Is(err, iofs.ErrNotExist) {
		return exitError{status: exitFailed, err: errors.New("status: no sync has run yet")}
	}
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printStatus(env.stdout, r, agent.LastSync(root))
	return nil
}

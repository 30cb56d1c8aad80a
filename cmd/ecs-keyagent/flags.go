package main

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
)

// newFlagSet makes a subcommand's flag set with the shared conventions.
func (env *cliEnv) newFlagSet(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.StringVar(&env.logLevel, "log-level", env.logLevel, "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: ecs-keyagent %s %s\n\n%s\n\nFlags:\n", c.name, c.usage, c.short)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses a subcommand's flags; it accepts no positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

// commonArgs are the flags `sync` and `run` share.
type commonArgs struct {
	config, root string
	endpoint     metadata.Endpoint
	users        []string
}

func (a *commonArgs) register(fs *flag.FlagSet) {
	fs.StringVar(&a.config, "config", "", "configuration file (default "+config.DefaultPath+"; under --root if absolute)")
	fs.StringVar(&a.root, "root", "/", "treat `DIR` as the filesystem root for every path read or written")
	fs.TextVar(&a.endpoint, "endpoint", metadata.Endpoint(""), "metadata service `URL` (overrides the configuration)")
	fs.Func("user", "target user `NAME` (repeatable; overrides the configuration's users)", func(s string) error {
		if !config.ValidUserName(s) {
			return fmt.Errorf("%q is not a valid user name", s)
		}
		a.users = append(a.users, s)
		return nil
	})
}

// load reads the configuration with the command-line overrides applied
// before validation.
func (a *commonArgs) load() (config.Config, error) {
	return loadConfig(a.root, a.config, func(cfg *config.Config) {
		if a.endpoint != "" {
			cfg.Endpoint = a.endpoint
		}
		if len(a.users) > 0 {
			cfg.Users = a.users
		}
	})
}

// loadConfig reads the configuration under root: the default file may be
// missing, a named one must exist. override applies flags before validation.
func loadConfig(root, path string, override func(*config.Config)) (config.Config, error) {
	full, named := configPath(root, path)
	cfg, err := config.Load(full, named, override)
	if err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// configPath is the file loadConfig reads for --root and --config, and
// whether the user named it.
func configPath(root, path string) (full string, named bool) {
	named = path != ""
	if !named {
		path = config.DefaultPath
	}
	full = path
	if root != "" && filepath.IsAbs(path) {
		full = filepath.Join(root, path)
	}
	return full, named
}

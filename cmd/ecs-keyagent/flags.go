package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
)

// newFlagSet makes a subcommand's flag set with the shared conventions:
// -h prints the help on stdout, and errors are said once, by Run.
func (env *cliEnv) newFlagSet(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&env.logLevel, "log-level", env.logLevel, "log `LEVEL`: debug, info, warn or error")
	fs.Usage = func() { printHelp(env.stdout, c, fs) }
	return fs
}

// parse parses a subcommand's flags; it accepts no positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	help := fs.Usage
	fs.Usage = func() {} // the flag package calls it on errors too
	err := fs.Parse(args)
	fs.Usage = help
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			help()
			return err
		}
		return flagError(err, fs, fs.Name())
	}
	if fs.NArg() > 0 {
		return usageError{err: fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0)), help: "ecs-keyagent " + fs.Name()}
	}
	return nil
}

// flagError rewrites the flag package's error in GNU spelling, with the
// closest flag when the name is unknown.
func flagError(err error, fs *flag.FlagSet, cmd string) error {
	where := "ecs-keyagent"
	if cmd != "" {
		where += " " + cmd
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		msg = fmt.Sprintf("unknown flag --%s", name)
		if near := closest(name, names); near != "" {
			msg += fmt.Sprintf("; did you mean --%s?", near)
		}
	} else {
		msg = strings.Replace(msg, " -", " --", 1)
	}
	if cmd != "" {
		msg = cmd + ": " + msg
	}
	return usageError{err: errors.New(msg), help: where}
}

// closest returns the candidate nearest to s by edit distance, when it is
// near enough to be a typo, else "".
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD || (strings.HasPrefix(c, s) && len(s) >= 3 && bestD > 1) {
			best, bestD = c, min(d, 1)
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// commonArgs are the flags `sync` and `run` share.
type commonArgs struct {
	config, root string
	endpoint     metadata.Endpoint
	users        []string
}

func (a *commonArgs) register(fs *flag.FlagSet) {
	fs.StringVar(&a.config, "config", "", "configuration `FILE` (default "+config.DefaultPath+"; under --root if absolute)")
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
		return cfg, usageError{err: err}
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

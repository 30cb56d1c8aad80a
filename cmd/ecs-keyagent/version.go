package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
)

// version is stamped at build time with the package version (make version:
// packaging/version.sh), -ldflags "-X main.version=...".
var version = "devel"

var versionCmd = &command{
	name:  "version",
	short: "print the version",
	examples: [][2]string{
		{"ecs-keyagent version", "print the version, the Go version and the platform"},
		{"ecs-keyagent --version", "the same"},
	},
	run: runVersion,
}

func runVersion(_ context.Context, env *cliEnv, fs *flag.FlagSet, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "ecs-keyagent %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

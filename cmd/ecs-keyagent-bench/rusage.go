package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// rusageEnv makes the harness's own binary a runner that starts one
// command and prints its rusage as JSON (see measure).
const rusageEnv = "ECS_KEYAGENT_BENCH_RUSAGE"

// usage is one command's rusage, as the runner prints it.
type usage struct {
	MaxRSS int64 `json:"maxrss_kib"`
	CPU    int64 `json:"cpu_ns"` // user + system, every thread
}

// measure runs args once and returns its peak resident memory and CPU
// time from wait4's rusage. It goes through a fresh copy of this binary:
// os/exec starts a command with vfork, sharing the parent's memory until
// exec, and the kernel carries the parent's peak resident memory into the
// child's ru_maxrss at exec. The harness holds the large file in memory,
// so its peak would hide the command's; the runner is a small process,
// whose few MiB are the floor of what this reports.
func measure(ctx context.Context, args []string) (usage, error) {
	self, err := os.Executable()
	if err != nil {
		return usage{}, err
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Env = append(os.Environ(), rusageEnv+"=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return usage{}, fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var u usage
	if err := json.Unmarshal(out, &u); err != nil {
		return usage{}, fmt.Errorf("read rusage of %s: %w", args[0], err)
	}
	return u, nil
}

// rusageMain is the runner: it runs args with no output and prints their
// rusage; its exit status is the command's, or 2.
func rusageMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "ecs-keyagent-bench: runner: no command")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintf(os.Stderr, "ecs-keyagent-bench: runner: %v\n", err)
		return 2
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		fmt.Fprintln(os.Stderr, "ecs-keyagent-bench: runner: no rusage")
		return 2
	}
	json.NewEncoder(os.Stdout).Encode(usage{MaxRSS: ru.Maxrss,
		CPU: int64(time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime)))})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ecs-keyagent-bench: runner: %v\n", err)
		return max(cmd.ProcessState.ExitCode(), 1)
	}
	return 0
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// settle is how long after the first sync the measurement starts: the boot
// sync's own write causes one drift sync 300 ms later (agent/daemon.go).
const settle = 2 * time.Second

// idleResult is one idle run of `ecs-keyagent run`.
type idleResult struct {
	interval, duration time.Duration
	rssMax, rssEnd     int64 // KiB, VmRSS sampled every second
	hwm                int64 // KiB, VmHWM at the end
	statCPU            time.Duration
	schedCPU           time.Duration // over duration, from schedstat
	lifeCPU            time.Duration // rusage of the whole process, start and stop included
	threads            int
}

// perDay extrapolates the measured CPU time to 24 hours.
func (r idleResult) perDay() time.Duration {
	return time.Duration(float64(r.schedCPU) * float64(24*time.Hour) / float64(r.duration))
}

func benchIdle(ctx context.Context, dir string, r *report) error {
	for _, c := range []struct {
		interval, duration time.Duration
	}{{30 * time.Second, r.opts.idle}, {time.Second, r.opts.idleFast}} {
		if c.duration <= 0 {
			continue
		}
		logf("idle: %s at a %s poll interval", c.duration, c.interval)
		res, err := idleRun(ctx, filepath.Join(dir, c.interval.String()), c.interval, c.duration, r.opts.bin)
		if err != nil {
			return err
		}
		r.idle = append(r.idle, res)
	}
	return nil
}

func idleRun(ctx context.Context, dir string, interval, duration time.Duration, bin string) (idleResult, error) {
	res := idleResult{interval: interval, duration: duration}
	t, err := newTree(dir)
	if err != nil {
		return res, err
	}
	if interval != 30*time.Second { // 30 s is the default: no file
		if err := t.setPollInterval(interval); err != nil {
			return res, err
		}
	}
	emu, err := startEmulator(bin, dir)
	if err != nil {
		return res, err
	}
	defer emu.close()
	bound, err := os.ReadFile(filepath.Join(dir, "id_bound.pub"))
	if err != nil {
		return res, err
	}
	cmd := t.runCmd(bin, emu.url, "")
	logFile, err := os.Create(filepath.Join(dir, "run.log"))
	if err != nil {
		return res, err
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer cmd.Process.Kill() //nolint:errcheck // after a normal stop it is gone
	pid := cmd.Process.Pid
	if err := waitFor(ctx, 10*time.Second, func() bool { return fileHas(t.keys, bytes.Fields(bound)[1]) }); err != nil {
		return res, fmt.Errorf("first sync: %w; see %s", err, logFile.Name())
	}
	time.Sleep(settle)

	cpu0, err := schedCPU(pid)
	if err != nil {
		return res, err
	}
	stat0, err := statCPU(pid)
	if err != nil {
		return res, err
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for end := time.Now().Add(duration); time.Now().Before(end); {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C:
		}
		rss, _, err := memory(pid)
		if err != nil {
			return res, fmt.Errorf("ecs-keyagent run exited: %w; see %s", err, logFile.Name())
		}
		res.rssMax = max(res.rssMax, rss)
	}
	cpu1, err := schedCPU(pid)
	if err != nil {
		return res, err
	}
	stat1, err := statCPU(pid)
	if err != nil {
		return res, err
	}
	res.schedCPU, res.statCPU = cpu1-cpu0, stat1-stat0
	if res.rssEnd, res.hwm, err = memory(pid); err != nil {
		return res, err
	}
	res.threads = threads(pid)
	if err := stop(cmd); err != nil {
		return res, fmt.Errorf("stop ecs-keyagent run: %w; see %s", err, logFile.Name())
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.lifeCPU = time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
	}
	return res, nil
}

// waitFor polls cond every millisecond until it holds or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", timeout)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

func fileHas(path string, needle []byte) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Contains(b, needle)
}

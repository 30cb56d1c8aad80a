package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// settle is how long after the first sync the measurement starts: the boot
// sync's own write causes one drift sync 300 ms later (agent/daemon.go), and
// the runtime's background work after start-up dies down.
const settle = 5 * time.Second

// idleResult is one idle run of `ecs-keyagent run`.
type idleResult struct {
	idleCase
	rssMax, rssEnd int64 // KiB, VmRSS sampled every second
	hwm            int64 // KiB, VmHWM at the end
	statCPU        time.Duration
	schedCPU       time.Duration // over duration, from schedstat
	lifeCPU        time.Duration // rusage of the whole process, start and stop included
	threads        int
}

// perDay extrapolates the measured CPU time to 24 hours.
func (r idleResult) perDay() time.Duration {
	return time.Duration(float64(r.schedCPU) * float64(24*time.Hour) / float64(r.duration))
}

// idleCase is one daemon of the idle part.
type idleCase struct {
	interval, duration time.Duration
	fs                 string // "tmpfs" or "disk": where its tree lives
	before             bool   // the earlier build (-before-bin)
}

// benchIdle runs, side by side in each window, a daemon whose tree is on
// tmpfs (as /run is in production; an idle poll writes only the last-sync
// time there, and reads the rest from the page cache) and one whose tree is
// on the scratch disk. In the default-interval window a third daemon polls
// once an hour: the Go runtime's own idle cost, the floor.
func benchIdle(ctx context.Context, dir string, r *report) error {
	shm := dir
	if fsType("/dev/shm") == "tmpfs" {
		var err error
		if shm, err = os.MkdirTemp("/dev/shm", "ecs-keyagent-bench."); err != nil {
			return err
		}
		defer os.RemoveAll(shm)
	}
	windows := [][]idleCase{
		{{30 * time.Second, r.opts.idle, "tmpfs", false}, {30 * time.Second, r.opts.idle, "disk", false}, {time.Hour, r.opts.idle, "tmpfs", false}},
		{{time.Second, r.opts.idleFast, "tmpfs", false}, {time.Second, r.opts.idleFast, "disk", false}},
	}
	if r.opts.beforeBin != "" { // the earlier build beside this one, under the same load
		windows[0] = append(windows[0], idleCase{30 * time.Second, r.opts.idle, "tmpfs", true})
		windows[1] = append(windows[1], idleCase{time.Second, r.opts.idleFast, "tmpfs", true})
	}
	for _, window := range windows {
		if window[0].duration <= 0 {
			continue
		}
		logf("idle: %s window, %d daemons side by side", window[0].duration, len(window))
		results := make([]idleResult, len(window))
		errs := make([]error, len(window))
		var wg sync.WaitGroup
		for i, c := range window {
			base := dir
			if c.fs == "tmpfs" {
				base = shm
			}
			bin, name := r.opts.bin, fmt.Sprintf("%s-%s", c.interval, c.fs)
			if c.before {
				bin, name = r.opts.beforeBin, name+"-before"
			}
			wg.Go(func() {
				results[i], errs[i] = idleRun(ctx, filepath.Join(base, name), c, bin, r.opts.bin)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		r.idle = append(r.idle, results...)
	}
	return nil
}

// idleRun runs bin's ecs-keyagent against an emulator of the current build.
func idleRun(ctx context.Context, dir string, c idleCase, bin, emuBin string) (idleResult, error) {
	interval, duration := c.interval, c.duration
	res := idleResult{idleCase: c}
	if fs := fsType(filepath.Dir(dir)); fs != "unknown" {
		res.fs = fs
	}
	t, err := newTree(dir)
	if err != nil {
		return res, err
	}
	if interval != 30*time.Second { // 30 s is the default: no file
		if err := t.setPollInterval(interval); err != nil {
			return res, err
		}
	}
	emu, err := startEmulator(emuBin, dir)
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

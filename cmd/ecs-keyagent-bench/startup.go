package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// startupResult is one start-up case: exec to READY=1, sorted.
type startupResult struct {
	name  string
	times []time.Duration
}

func (s startupResult) median() time.Duration { return s.times[len(s.times)/2] }

// benchStartup starts `run` with NOTIFY_SOCKET pointing at a unixgram
// socket of ours, as systemd does for Type=notify, and times exec to
// READY=1, which the daemon sends after its first sync reached the
// metadata service. "restart" finds the file already right; "first boot"
// writes the key and turns password login off first.
func benchStartup(ctx context.Context, dir string, r *report) error {
	emu, err := startEmulator(r.opts.bin, dir)
	if err != nil {
		return err
	}
	defer emu.close()
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("listen on NOTIFY_SOCKET: %w", err)
	}
	defer conn.Close()
	type startCase struct {
		name      string
		fresh     bool
		bin, tree string
	}
	cases := []startCase{{"restart, file already right", false, r.opts.bin, "restart"}, {"first boot, key written", true, r.opts.bin, "boot"}}
	if b := r.opts.beforeBin; b != "" { // the earlier build, each on trees of its own
		cases = append(cases, startCase{cases[0].name + " (" + r.opts.beforeRev + ")", false, b, "restart-before"},
			startCase{cases[1].name + " (" + r.opts.beforeRev + ")", true, b, "boot-before"})
	}
	for _, c := range cases {
		res := startupResult{name: c.name}
		t, err := newTree(filepath.Join(dir, c.tree))
		if err != nil {
			return err
		}
		for i := -1; i < r.opts.startups; i++ { // run -1 warms the page cache
			if c.fresh {
				if t, err = newTree(filepath.Join(dir, fmt.Sprint(c.tree, i))); err != nil {
					return err
				}
			}
			d, err := startOnce(ctx, conn, t.runCmd(c.bin, emu.url, sock), filepath.Join(dir, "run.log"))
			if err != nil {
				return err
			}
			if i >= 0 {
				res.times = append(res.times, d)
			}
		}
		slices.Sort(res.times)
		r.startup = append(r.startup, res)
	}
	return nil
}

// startOnce starts cmd, returns the time to READY=1 and stops it.
func startOnce(ctx context.Context, conn *net.UnixConn, cmd *exec.Cmd, log string) (time.Duration, error) {
	f, err := os.Create(log)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cmd.Stderr = f
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer stop(cmd) //nolint:errcheck // stopped after the figure is taken
	buf := make([]byte, 4096)
	for {
		if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			return 0, err
		}
		n, err := conn.Read(buf)
		if err != nil {
			return 0, fmt.Errorf("wait for READY=1: %w; see %s", err, log)
		}
		// Datagrams left by the previous run (STATUS=, STOPPING=1) are
		// read here too; only READY=1 counts.
		if slices.Contains(strings.Split(string(buf[:n]), "\n"), "READY=1") {
			return time.Since(start), ctx.Err()
		}
	}
}

package reliability

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// service is a running `ecs-keyagent run`.
type service struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startService starts the service on the tree, polling every poll; the
// tree's config file must set poll_interval. Its log goes to a file.
func startService(t *testing.T, tr *tree, endpoint string, users ...string) *service {
	t.Helper()
	if !hasRunCmdNow(t) {
		if os.Getenv("CI") == "true" {
			t.Fatal("ecs-keyagent has no run command")
		}
		t.Skip("ecs-keyagent has no run command yet")
	}
	args := []string{"run", "--root", tr.root, "--endpoint", endpoint}
	for _, u := range users {
		args = append(args, "--user", u)
	}
	s := &service{log: filepath.Join(t.TempDir(), "service.log"), done: make(chan struct{})}
	f, err := os.Create(s.log)
	must(t, err)
	s.cmd = exec.Command(agentBin(t), args...)
	s.cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	s.cmd.Stdout, s.cmd.Stderr = f, f
	must(t, s.cmd.Start())
	f.Close()
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
	return s
}

func hasRunCmdNow(t *testing.T) bool {
	agentBin(t)
	return hasRunCmd
}

// stop sends SIGTERM and returns the exit status (-1 when it had to be killed).
func (s *service) stop(t *testing.T) int {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		return -1
	}
}

// running reports whether the service has not exited.
func (s *service) running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// logTail returns the end of the service's log.
func (s *service) logTail() string {
	data, _ := os.ReadFile(s.log)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// procSample is what /proc shows of the service at one moment.
type procSample struct {
	rss, threads int64 // KiB, count
	fds          int
	fdPeak       int      // set by window: the most fds of its samples
	fdNames      []string // what each fd is, sorted; sockets and pipes without their inode
}

func (s *service) sample() procSample {
	pid := s.cmd.Process.Pid
	status := fmt.Sprintf("/proc/%d/status", pid)
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, _ := os.ReadDir(dir)
	var names []string
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue // closed since the listing
		}
		if kind, _, ok := strings.Cut(l, ":["); ok { // socket:[123], pipe:[456], anon_inode:[eventfd] stays
			if kind == "socket" || kind == "pipe" {
				l = kind
			}
		}
		names = append(names, l)
	}
	slices.Sort(names)
	return procSample{rss: statusField(status, "VmRSS:"), threads: statusField(status, "Threads:"), fds: len(fds), fdNames: names}
}

// panicked reports whether the service's log shows a Go panic or race.
func (s *service) panicked() bool {
	data, _ := os.ReadFile(s.log)
	return strings.Contains(string(data), "panic:") || strings.Contains(string(data), "DATA RACE")
}

package reliability

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLoad starts 100 `sync` processes at once, with the service running
// beside them, for several rounds, each after a key rotation. A reader
// loop checks that authorized_keys and sshd's drop-in are always whole:
// present, and one of the round's two valid versions. The lock must make
// exactly one writer per change: at most one process per round reports the
// change (none when the service got there first). Every process must exit
// 0 within its deadline (no deadlock). The metadata emulator runs in a
// process of its own (see imdsProcess). Before the rounds, the test holds
// the lock itself while 99 syncs wait for it, and reports the CPU they use
// while they wait; the rounds report the syncs' CPU and durations, how long
// the emulator waited for a sync's next request, and the CPU that other
// work used on the machine meanwhile. Times are figures, never asserted.
func TestLoad(t *testing.T) {
	needRoot(t)
	rec := newRecord(t, "Load: 100 concurrent syncs plus the service")
	rounds, procs := scale(10, 1), 100
	tr := newTree(t, layoutDropIn)
	tr.config("disable", "poll_interval = \"100ms\"\n")
	cpu0 := cpuNow()
	srv := startIMDSProcess(t) // not in this process, which starts 100 children at once
	url := srv.url
	own := map[string]string{"alice": "# alice's own lines\n" + newKey(t, "alice-own").line + "\n"}
	tr.mkdir("home/alice/.ssh", 0o700)
	tr.write("home/alice/.ssh/authorized_keys", own["alice"], 0o600)
	tr.chown("home/alice/.ssh", aliceUID)
	tr.chown("home/alice/.ssh/authorized_keys", aliceUID)
	files := []string{"home/alice/.ssh/authorized_keys", "home/bob/.ssh/authorized_keys"}
	bind(srv, newKey(t, "round-start"))
	args := tr.syncArgs(url, "alice", "bob")
	if o := runAgent(t, time.Minute, args...); o.status != 0 {
		t.Fatalf("first sync: status %d\n%s%s", o.status, o.stdout, o.stderr)
	}
	files = append(files, "etc/ssh/sshd_config.d/00-ecs-keyagent.conf")
	waitFigure := measureWaiters(t, rec, tr, procs-1, time.Duration(scale(10, 2))*time.Second, args...)
	svc := startService(t, tr, srv.serviceURL, "alice", "bob")

	var reads atomic.Int64
	var slowest, longestRound time.Duration
	var cpus []time.Duration
	var mu sync.Mutex
	for round := range rounds {
		// Rotate the keys while holding the lock: a sync of the service that
		// read the listing before the rotation and the keys after it would
		// write a version that is neither the old nor the new one.
		release := holdLock(t, tr)
		old := map[string]string{}
		for _, f := range files {
			old[f] = tr.read(f)
		}
		bind(srv, newKeys(t, 1+round%2)...)
		release()
		seen := map[string]map[string]bool{}
		for _, f := range files {
			seen[f] = map[string]bool{}
		}
		stop := make(chan struct{})
		var reader sync.WaitGroup
		reader.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, f := range files {
					data, err := os.ReadFile(tr.path(f))
					if err != nil {
						rec.lost("round %d: %s unreadable while syncs ran: %v", round, f, err)
						continue
					}
					seen[f][string(data)] = true
					reads.Add(1)
				}
			}
		})
		outs := make([]outcome, procs)
		roundStart := time.Now()
		var wg sync.WaitGroup
		for i := range procs {
			wg.Go(func() {
				outs[i] = runAgentSampled(t, 2*time.Minute, false, args...)
				mu.Lock()
				slowest = max(slowest, outs[i].elapsed)
				mu.Unlock()
			})
		}
		wg.Wait()
		longestRound = max(longestRound, time.Since(roundStart))
		close(stop)
		reader.Wait()
		for _, o := range outs {
			cpus = append(cpus, o.cpu)
		}
		writers := map[string]int{}
		for i, o := range outs {
			rec.run()
			rec.fault() // each process contends with 99 others and the service
			if o.status != 0 {
				rec.fail("round %d: process %d: status %d\n%s%s", round, i, o.status, o.stdout, o.stderr)
			}
			for _, u := range []string{"alice", "bob"} {
				if strings.Contains(o.stdout, u+": /home/"+u+"/.ssh/authorized_keys: updated") {
					writers[u]++
				}
			}
		}
		for u, n := range writers {
			if n > 1 {
				rec.fail("round %d: %d processes report writing %s's file: the lock let two writers in", round, n, u)
			}
		}
		// The service may be in a sync now, with its temporary files: check
		// what the syncs left while holding the lock, as a sync would.
		release = holdLock(t, tr)
		for _, f := range files {
			now := tr.read(f)
			for content := range seen[f] {
				if content != old[f] && content != now {
					rec.lost("round %d: a reader saw %s neither old nor new:\n%q", round, f, content)
				}
			}
		}
		if u := "alice"; !strings.HasPrefix(tr.read(files[0]), own[u]) {
			rec.lost("round %d: alice's own lines are gone", round)
		}
		if left := tr.temps(); len(left) > 0 {
			rec.fail("round %d: temporary files left: %q", round, left)
		}
		release()
		if !svc.running() {
			rec.fail("round %d: the service exited:\n%s", round, svc.logTail())
		}
	}
	if status := svc.stop(t); status != 0 {
		rec.fail("service exit status %d after SIGTERM\n%s", status, svc.logTail())
	}
	if svc.panicked() {
		rec.fail("service log shows a panic:\n%s", svc.logTail())
	}
	rec.figure("processes", fmt.Sprintf("%d rounds x %d syncs, plus the service polling every 100 ms", rounds, procs))
	rec.figure("reads of the files while they ran", fmt.Sprint(reads.Load()))
	rec.figure("slowest sync under load (start to exit, waiting for the lock included)", slowest.Round(time.Millisecond).String())
	rec.figure("longest round (100 syncs started at once, until the last exits)", longestRound.Round(time.Millisecond).String())
	rec.figure("longest the emulator waited for a sync's next request (after its connection or its last answer; the 2 s request limit runs meanwhile)",
		srv.longestPause().Round(time.Millisecond).String())
	slices.Sort(cpus)
	if len(cpus) > 0 {
		var total time.Duration
		for _, c := range cpus {
			total += c
		}
		rec.figure("CPU of a sync under load (user+system from rusage, children included): median / largest / all syncs", fmt.Sprintf("%v / %v / %v",
			cpus[len(cpus)/2].Round(time.Millisecond), cpus[len(cpus)-1].Round(time.Millisecond), total.Round(time.Millisecond)))
	}
	rec.figure(fmt.Sprintf("CPU of %d syncs waiting for the lock while the test holds it", procs-1), waitFigure)
	rec.figure("CPU of the machine while the scenario ran", cpuNow().since(cpu0, srv.pid))
}

// cpuSnapshot is the machine's CPU time and this process's and its
// waited-for children's, at one moment.
type cpuSnapshot struct {
	at          time.Time
	busy, total time.Duration // all CPUs, from /proc/stat
	own         time.Duration // getrusage(2) RUSAGE_SELF plus RUSAGE_CHILDREN
}

func cpuNow() cpuSnapshot {
	s := cpuSnapshot{at: time.Now()}
	data, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(data), "\n")
	for i, f := range strings.Fields(line) {
		if i == 0 {
			continue // "cpu"
		}
		n, _ := strconv.ParseInt(f, 10, 64)
		d := time.Duration(n) * time.Second / 100 // USER_HZ
		if i > 8 {
			break // guest time is counted in user time already (proc(5))
		}
		s.total += d
		if i != 4 && i != 5 { // idle, iowait
			s.busy += d
		}
	}
	for _, who := range []int{unix.RUSAGE_SELF, unix.RUSAGE_CHILDREN} {
		var ru unix.Rusage
		if unix.Getrusage(who, &ru) == nil {
			s.own += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return s
}

// since describes the CPU used from s0 to s: by everything, by this test
// with its children and the process pid (not yet waited for), and by the
// rest, which is other work on a shared machine.
func (s cpuSnapshot) since(s0 cpuSnapshot, pid int) string {
	busy, total := s.busy-s0.busy, s.total-s0.total
	own := s.own - s0.own + procCPU(pid)
	return fmt.Sprintf("%v busy of %v over %v (%d CPUs); this test and its processes %v, other work %v",
		busy.Round(100*time.Millisecond), total.Round(100*time.Millisecond), s.at.Sub(s0.at).Round(100*time.Millisecond),
		runtime.NumCPU(), own.Round(100*time.Millisecond), max(0, busy-own).Round(100*time.Millisecond))
}

// procCPU is the user and system time of process pid so far, from
// /proc/PID/stat (fields 14 and 15, after the command name in parentheses).
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * time.Second / 100
}

// lockRel is where the agent keeps its lock under --root.
const lockRel = "run/ecs-keyagent/lock"

// measureWaiters holds the agent's lock (flock(2) on the lock file) while n
// syncs start and wait for it, and returns what they cost while waiting: the
// time their threads spent on a CPU and how often they were put on one, from
// /proc/PID/task/TID/schedstat (fields 1 and 3; see the kernel's
// Documentation/scheduler/sched-stats.rst), over window, from the moment
// every one has the lock file open (plus a short settling pause for its
// start-up). Then it releases the lock; every sync must exit 0.
func measureWaiters(t *testing.T, rec *record, tr *tree, n int, window time.Duration, args ...string) string {
	t.Helper()
	lockPath := tr.path(lockRel)
	unlock := holdLock(t, tr)
	defer unlock()

	type waiter struct {
		cmd            *exec.Cmd
		stdout, stderr bytes.Buffer
		done           chan error
		exited         bool
	}
	ws := make([]*waiter, n)
	for i := range ws {
		w := &waiter{cmd: exec.Command(agentBin(t), args...), done: make(chan error, 1)}
		w.cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
		w.cmd.Stdout, w.cmd.Stderr = &w.stdout, &w.stderr
		must(t, w.cmd.Start())
		go func() { w.done <- w.cmd.Wait() }()
		ws[i] = w
	}
	defer func() { // on a failure below, leave no process behind
		for _, w := range ws {
			if !w.exited {
				w.cmd.Process.Kill()
				<-w.done
			}
		}
	}()
	limit := time.Now().Add(time.Minute)
	for i, w := range ws {
		for !hasOpen(w.cmd.Process.Pid, lockPath) {
			if time.Now().After(limit) {
				t.Fatalf("waiter %d has not opened %s within a minute", i, lockPath)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(500 * time.Millisecond) // the last ones' start-up
	var cpu0, on0 int64
	for _, w := range ws {
		c, o := schedstat(w.cmd.Process.Pid)
		cpu0, on0 = cpu0+c, on0+o
	}
	start := time.Now()
	time.Sleep(window)
	var cpu1, on1 int64
	for _, w := range ws {
		c, o := schedstat(w.cmd.Process.Pid)
		cpu1, on1 = cpu1+c, on1+o
	}
	took := time.Since(start)
	unlock()
	for i, w := range ws {
		err := <-w.done
		w.exited = true
		rec.run()
		rec.fault()
		if err != nil || w.cmd.ProcessState.ExitCode() != 0 {
			rec.fail("waiting phase: process %d: %v\n%s%s", i, err, w.stdout.String(), w.stderr.String())
		}
	}
	used := time.Duration(cpu1 - cpu0)
	return fmt.Sprintf("%v in %v of waiting (%.2f%% of one CPU), on a CPU %d times (%.0f a second)",
		used.Round(time.Microsecond), took.Round(time.Millisecond), 100*used.Seconds()/took.Seconds(),
		on1-on0, float64(on1-on0)/took.Seconds())
}

// holdLock takes the agent's lock, waiting for a sync in progress; no
// sync runs until the returned function releases it (which may be called
// more than once).
func holdLock(t *testing.T, tr *tree) (release func()) {
	t.Helper()
	f, err := os.OpenFile(tr.path(lockRel), os.O_RDWR|os.O_CREATE, 0o600)
	must(t, err)
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	var once sync.Once
	return func() { once.Do(func() { f.Close() }) }
}

// hasOpen reports whether process pid has path open.
func hasOpen(pid int, path string) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == path {
			return true
		}
	}
	return false
}

// schedstat sums over the threads of pid the nanoseconds spent on a CPU and
// the number of times each was put on one.
func schedstat(pid int) (ns, times int64) {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, p := range tasks {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		f := strings.Fields(string(data))
		if len(f) < 3 {
			continue
		}
		a, _ := strconv.ParseInt(f[0], 10, 64)
		b, _ := strconv.ParseInt(f[2], 10, 64)
		ns, times = ns+a, times+b
	}
	return ns, times
}

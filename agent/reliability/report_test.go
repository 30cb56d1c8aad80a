package reliability

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// scenarioNotes say, for each row, what the scenario does and what its
// "faults injected" counts.
var scenarioNotes = map[string]string{
	"Crash consistency: SIGKILL during sync":                        "`ecs-keyagent sync` killed with SIGKILL after a random delay within its measured run time, while it rewrites authorized_keys and sshd's drop-in (Debian layout) or main file (CentOS 7 layout); keys and the sshd mode change before every run. After each kill every file must be wholly old or wholly new with its mode and owner, the state file whole JSON; the next sync must converge and leave no temporary file. Faults: runs actually killed.",
	"Full and read-only disks":                                      "alice's home and then sshd's directory on a 256 KiB tmpfs filled to a random point below what the new file needs, and each made read-only by a bind mount. Each sync must exit 1 with an error line and leave the files as they were and no temporary file; the next sync after space or write access returns must converge. Faults: full or read-only syncs.",
	"Hostile home directories (racing swaps)":                       "≥1,000 syncs per attack while a goroutine swaps, with renameat2(RENAME_EXCHANGE), ~/.ssh with a symlink to the tree's etc, to the host's /etc or to bob's .ssh, and authorized_keys with a symlink to etc/shadow, a hard link to the root-owned etc/shadow, a FIFO, a directory and a 1 GiB sparse file. Every sync must exit 0 or 1 with an error line; path, size, mode, owner, mtime and content hash of every file outside alice's ~/.ssh (and the host's /etc) must be unchanged. Faults: swaps made.",
	"Hostile metadata answers":                                      "drip, delay, 10 MiB bodies, 10,000 keys and listing entries, path traversal in the listing (`../`, `%2e%2e`, `..%2f`, `/etc/`, absolute URLs), keys with options, CR, NUL, two keys in one body, invalid UTF-8, a redirect to another host, a 1 MiB token, endless 401s, connection resets, 500s, a disabled token endpoint. Each must give the right exit status and an error line, leave alice's file byte for byte (or install only the good key of a partial answer), never request a path outside `/latest/` or touch the other host, and stay under 100 MiB peak memory (VmHWM sampled from /proc). Faults: hostile answers served.",
	"Lockout: password login never disabled without a usable key":   "random combinations of bound keys (valid, mixed, none, all invalid) and homes for two users (no .ssh, symlinked .ssh or file, group-writable, foreign-owned, FIFO, hard-linked), both sshd layouts, and in half the drop-in runs an administrator's drop-in with one of sshd's gates (PubkeyAuthentication no, globally or in a Match block; algorithms without ed25519; AuthorizedKeysFile elsewhere; AuthenticationMethods publickey,password; PermitRootLogin no; DenyUsers). Password login must be turned off only when every user's file holds a key sshd accepts (checked by StrictModes rules and keys.UsableKeys) and the real `sshd -T` on the tree's files lets the key in (an oracle apart from the agent's login model: a refusal there is counted as a lockout), and must be turned off when all is well and no gate closes the key way; when left on, the report must say why. Faults: runs with a gate, an unusable home or no valid key.",
	"sshd faults: broken config, no sshd, failing reload, no D-Bus": "the sshd step against the real sshd with administrators' configurations sshd -t rejects, with the sshd binary missing, with a Reloader that fails (then a retry), and with no D-Bus (no systemd: the pid-file fallback, also with a pid file naming a non-sshd process). Files must be byte for byte as before after a failure, or whole and accepted by sshd -t after a success. Faults: cases.",
	"Load: 100 concurrent syncs plus the service":                   "rounds of 100 `sync` processes started at once beside `ecs-keyagent run` polling every 100 ms, after a key rotation; a reader loop reads the files throughout. Every read must be the old or the new version, at most one process per round may report the change (the lock), every process must exit 0 (no deadlock). The emulator runs in a process of its own: in the test process, which starts the 100 children, it could stop answering for seconds. Before the rounds the test holds the lock itself while 99 syncs start and wait for it, and measures what their threads use of the CPU while they wait (/proc/PID/task/TID/schedstat). Durations and CPU times are figures, not pass marks; the machine may be shared, so the CPU used by other work meanwhile is given with them. Faults: contending processes.",
	"Long run: the service polling at 100 ms, rotations and faults": "`ecs-keyagent run` polling every 100 ms while the emulator rotates keys about once a second and, half the time, injects a random fault for 1-3 requests. Every rotation must reach authorized_keys; VmRSS, open fds and threads are sampled from /proc and must stay flat. Open fds are compared at their fewest in the first and the last tenth of the run, between syncs (a sample taken while a sync runs also sees the lock file, directories, a temporary file or a second connection), and the descriptors open then at the end but not at the start are named. Faults: injected faults.",
}

// TestRenderReport writes docs/reliability.md from the results file when
// ECS_KEYAGENT_RELIABILITY_REPORT names the output (`make reliability`).
func TestRenderReport(t *testing.T) {
	out := os.Getenv("ECS_KEYAGENT_RELIABILITY_REPORT")
	in := os.Getenv("ECS_KEYAGENT_RELIABILITY_RESULTS")
	if out == "" || in == "" {
		t.Skip("renders docs/reliability.md under make reliability only")
	}
	f, err := os.Open(in)
	must(t, err)
	defer f.Close()
	var recs []*record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		r := &record{}
		must(t, json.Unmarshal(sc.Bytes(), r))
		recs = append(recs, r)
	}
	must(t, sc.Err())
	must(t, os.WriteFile(out, []byte(render(recs)), 0o644))
}

func render(recs []*record) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Reliability figures\n\n")
	w("Generated by `make reliability` from the tests in [`agent/reliability`](../agent/reliability/doc.go);\n")
	w("do not edit by hand. Each test drives the real `ecs-keyagent` binary against the\n")
	w("metadata emulator and a scratch `--root` tree, as root.\n\n")
	w("Reproduce, as root on a Debian 12 machine with Go and openssh-server:\n\n")
	w("```\nsudo make reliability   # every scenario at full count, then this file\nsudo make soak          # the long run alone (SOAK=10m)\nmake fuzz               # every fuzz target for FUZZTIME (30 s)\n```\n\n")
	w("%s\n\n", machine())
	w("| scenario | runs | faults injected | failures | bytes written outside allowed paths | data lost |\n")
	w("|---|--:|--:|--:|--:|--:|\n")
	var tot record
	for _, r := range recs {
		name := r.Scenario
		if r.Skipped != "" {
			name += " (skipped)"
		}
		if !r.Full {
			name += " (short run)"
		}
		w("| %s | %d | %d | %d | %d | %d |\n", name, r.Runs, r.Faults, r.Failures, r.Outside, r.Lost)
		tot.Runs += r.Runs
		tot.Faults += r.Faults
		tot.Failures += r.Failures
		tot.Outside += r.Outside
		tot.Lost += r.Lost
	}
	w("| **total** | **%d** | **%d** | **%d** | **%d** | **%d** |\n\n", tot.Runs, tot.Faults, tot.Failures, tot.Outside, tot.Lost)
	w("Goal: 0 in the last three columns. Times are reported, never asserted.\n\n")
	w("## Scenarios\n")
	for _, r := range recs {
		w("\n### %s\n\n", r.Scenario)
		if n := scenarioNotes[r.Scenario]; n != "" {
			w("%s\n\n", n)
		}
		keys := make([]string, 0, len(r.Figures))
		for k := range r.Figures {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			w("- %s: %s\n", k, r.Figures[k])
		}
	}
	w("\n## Fuzz targets\n\n")
	w("Everything that parses outside input has a Go fuzz target; `make test` runs their seed\n")
	w("corpora, `make fuzz` runs each for `FUZZTIME`: `agent/metadata` FuzzParseListing and FuzzFetch\n")
	w("(listing and key bodies as served), `keys` FuzzParseKey, FuzzMerge and FuzzUsableKeys\n")
	w("(metadata keys and authorized_keys), `agent/sshd` FuzzParse (sshd_config).\n")
	return b.String()
}

// machine describes where the figures were taken.
func machine() string {
	var u unix.Utsname
	unix.Uname(&u)
	mem := statusField("/proc/meminfo", "MemTotal:")
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.Lines(string(data)) {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("Machine: %d CPUs (%s), %.1f GiB memory, Linux %s, %s %s/%s. Date: %s.",
		runtime.NumCPU(), cpu, float64(mem)/(1<<20), unix.ByteSliceToString(u.Release[:]),
		runtime.Version(), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02 15:04 MST"))
}

package main

import (
	"fmt"
	"strings"
	"time"
)

// harness is how a person reruns one part.
func (r *report) harness(part string, flags ...string) string {
	return "go run ./cmd/ecs-keyagent-bench -out /dev/stdout -parts " + part + " " + strings.Join(flags, " ")
}

func (r *report) writeGoBench(b *strings.Builder) {
	if r.gobench == "" {
		return
	}
	fmt.Fprintf(b, "## Merge cost (Go benchmarks, package keys)\n\n")
	fmt.Fprintf(b, "`BenchmarkFileSync` is the keys side of one user's sync as the engine does it "+
		"(`agent.Engine.apply`): `ParseKey` of the metadata body, `Adopt` (a bound key found outside the block), "+
		"`Merge` into the file (find the block, render, splice), `BlockLines` of the old file and `Compare`; "+
		"whether sshd has a usable key is settled by the block's key (`keys.Usable`), without reading the "+
		"other lines. `BenchmarkUsableScan` is the full scan that remains for a file whose block holds no "+
		"usable key, or when sshd accepts none of the block's key types: `UsableTypes`, and `UsableKeys`, which "+
		"also renders and fingerprints each key (what every sync did before). `BenchmarkMergeOnly` is `Merge` "+
		"alone. Files are users' own ed25519 keys with comments, a comment line and a blank line every 50 "+
		"lines, and the managed block in the middle. `ns/line` is time per op divided by the file's lines: "+
		"flat means linear; allocs/op that do not grow with lines mean no per-line work.\n\n")
	fmt.Fprintf(b, "```\n%s\n```\n\n```\n%s```\n\n", r.opts.gobenchCmd, r.gobench)
}

func (r *report) writeSync(b *strings.Builder) {
	s := r.sync
	if s == nil {
		return
	}
	fmt.Fprintf(b, "## One-shot sync, whole process\n\n")
	fmt.Fprintf(b, "Each command on its own scratch tree (`--root`, one user with two hand-added keys, sshd "+
		"laid out like an Ubuntu cloud image), against `ecs-metadata-emulator --all-document` on 127.0.0.1 "+
		"(token policy `optional`: the agent asks for a token, then reads the whole tree as one JSON document, "+
		"`/latest/meta-data/all`, as ECS serves it; the baseline makes one tokenless GET). *Unchanged*: the key is already in place, nothing is written. *Changed*: "+
		"`--prepare` puts back a block holding an old key, so each run replaces it (temporary file, fchown, "+
		"fsync, rename, directory fsync) and records the result. The baseline starts from the same file and "+
		"replaces it whole with the bound key (dropping the hand-added ones, no fsync).\n\n")
	fmt.Fprintf(b, "| command | median | mean ± σ | min | max | user | system | median vs baseline |\n|---|---|---|---|---|---|---|---|\n")
	base := s.results[len(s.results)-1].Median
	for _, h := range s.results {
		fmt.Fprintf(b, "| %s | %s | %s ± %s | %s | %s | %s | %s | %.2f× |\n", h.Command, ms(sec(h.Median)),
			ms(sec(h.Mean)), ms(sec(h.Stddev)), ms(sec(h.Min)), ms(sec(h.Max)), ms(sec(h.User)), ms(sec(h.System)), h.Median/base)
	}
	fmt.Fprintf(b, "\n%d runs each after 5 warm-up runs. Reproduce: `%s`, which runs\n\n```\n%s\n```\n\n",
		len(s.results[0].Times), r.harness("sync"), s.command)
}

func (r *report) writeLarge(b *strings.Builder) {
	l := r.large
	if l == nil || len(l.results) == 0 {
		return
	}
	fmt.Fprintf(b, "## Large authorized_keys, whole process\n\n")
	fmt.Fprintf(b, "`ecs-keyagent sync` on a tree like the one-shot part's whose user has grown "+
		"`authorized_keys` to %d lines (%s): their own ed25519 keys with comments, a comment line and a "+
		"blank line every 50 lines, the managed block in the middle — the shape `BenchmarkFileSync` uses. "+
		"*Unchanged*: the block already holds the bound key. *Changed*: `--prepare` puts back a block "+
		"holding an old key, so each run rewrites the file. Beside them, in the same hyperfine run, "+
		"`ssh-keygen -lf` on the same file: it reads and parses every key, as sshd does at a logon. "+
		"Peak memory and CPU time are the worst of %d more runs of each command on its own, from "+
		"wait4's rusage (`ru_maxrss`; user + system time summed over every thread), which depend far "+
		"less on the machine's load than wall-clock time does. Each goes through a small runner process "+
		"(os/exec starts commands with vfork, and the kernel carries the parent's peak into the child's "+
		"`ru_maxrss`), whose own %s (`true` through it) is the floor of that column.\n\n",
		l.lines, mib(int64(l.bytes)>>10), l.peaks[0].runs, mib(l.floor))
	fmt.Fprintf(b, "| command | median | mean ± σ | min | max | user | system | median vs ssh-keygen | peak RSS | CPU (rusage, worst) |\n|---|---|---|---|---|---|---|---|---|---|\n")
	kg, _, _ := l.row(largeKeygen)
	for i, h := range l.results {
		p := l.peaks[i]
		fmt.Fprintf(b, "| %s | %s | %s ± %s | %s | %s | %s | %s | %.2f× | %s | %s |\n", h.Command, ms(sec(h.Median)),
			ms(sec(h.Mean)), ms(sec(h.Stddev)), ms(sec(h.Min)), ms(sec(h.Max)), ms(sec(h.User)), ms(sec(h.System)),
			h.Median/kg.Median, mib(p.maxRSS), ms(p.cpu))
	}
	fmt.Fprintf(b, "\n%d runs each after 2 warm-up runs. Reproduce: `%s`, which runs\n\n```\n%s\n```\n\n",
		len(l.results[0].Times), r.harness("large", "-large-lines", fmt.Sprint(l.lines)), l.command)
}

func (r *report) writeIdle(b *strings.Builder) {
	if len(r.idle) == 0 {
		return
	}
	fmt.Fprintf(b, "## Idle service\n\n")
	fmt.Fprintf(b, "`ecs-keyagent run --root TREE --endpoint URL --user bench`, NOTIFY_SOCKET unset, each daemon "+
		"with its own emulator; the key is in place after the boot sync and the window starts %s later. "+
		"The daemons of one window run side by side: a tree on tmpfs (production's /run is tmpfs, and an "+
		"idle poll writes only the last-sync time there; the rest is read from the page cache) and one on "+
		"the scratch disk; in the default-interval window a third one polls hourly, which shows the Go "+
		"runtime's own floor. Memory is sampled from `/proc/PID/status` every second. Window CPU is the sum "+
		"of the threads' `/proc/PID/task/*/schedstat` run time (ns); utime+stime from `/proc/PID/stat` is "+
		"the same clock in 10 ms ticks, shown beside it. Per day = window CPU × 24 h / window; per poll = "+
		"window CPU / (window / interval).\n\n", settle)
	if r.opts.beforeBin != "" {
		fmt.Fprintf(b, "Rows marked *%s* are the earlier build (`-before-bin`), run in the same window as the others, "+
			"against the same emulator build, under the same load.\n\n", r.opts.beforeRev)
	}
	fmt.Fprintf(b, "| poll interval | tree on | window | VmRSS max | VmHWM | window CPU | utime+stime | per poll | **CPU per day** | whole-life CPU (rusage) | threads |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.idle {
		perPoll := "–"
		if polls := int(s.duration / s.interval); polls > 0 {
			perPoll = ms(s.schedCPU / time.Duration(polls))
		}
		fs := s.fs
		if s.before {
			fs += ", *" + r.opts.beforeRev + "*"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | **%s** | %s | %d |\n", human(s.interval), fs, human(s.duration),
			mib(s.rssMax), mib(s.hwm), ms(s.schedCPU), ms(s.statCPU), perPoll, seconds(s.perDay()), ms(s.lifeCPU), s.threads)
	}
	fmt.Fprintf(b, "\nReproduce: `%s` (`make bench BENCH_IDLE=2m` for a shorter default-interval window). "+
		"To see where a poll's CPU goes: `go test -run '^$' -bench EngineSync -cpuprofile cpu.out ./agent` "+
		"(one unchanged poll in process), or `perf record -g -p PID` on a daemon built without `-s -w`.\n\n",
		r.harness("idle", "-idle", r.opts.idle.String(), "-idle-fast", r.opts.idleFast.String()))
}

func (r *report) writeRotation(b *strings.Builder) {
	q := r.rotation
	if q == nil || len(q.latencies) == 0 {
		return
	}
	var sum time.Duration
	for _, l := range q.latencies {
		sum += l
	}
	fmt.Fprintf(b, "## Rotation latency\n\n")
	fmt.Fprintf(b, "`run` at `poll_interval = \"%s\"`. %d times: sleep a random part of the interval, bind a "+
		"fresh ed25519 key in the emulator (`PUT /emulator/keys`), then time from that request's answer to "+
		"the new key in `authorized_keys` (inotify on `~/.ssh`, re-read on every event and every 10 ms).\n\n",
		q.interval, len(q.latencies)+q.missed)
	fmt.Fprintf(b, "| n | min | p50 | p90 | p99 | max | mean | not seen within %s |\n|---|---|---|---|---|---|---|---|\n", human(10*q.interval))
	fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s | %d |\n\n", len(q.latencies), ms(q.latencies[0]),
		ms(q.quantile(0.5)), ms(q.quantile(0.9)), ms(q.quantile(0.99)), ms(q.latencies[len(q.latencies)-1]),
		ms(sum/time.Duration(len(q.latencies))), q.missed)
	fmt.Fprintf(b, "The daemon sees a metadata change only at its next poll: the file watch repairs local "+
		"drift, not remote changes. Polls are a jittered interval (±10 %%) apart, so latency is spread over "+
		"0 to about 1.1 × interval plus one sync, with a median near half the interval. Reproduce: `%s`.\n\n",
		r.harness("rotation", "-rotations", fmt.Sprint(r.opts.rotations)))
}

func (r *report) writeStartup(b *strings.Builder) {
	if len(r.startup) == 0 {
		return
	}
	fmt.Fprintf(b, "## Start-up\n\n")
	fmt.Fprintf(b, "From just before `exec` of `ecs-keyagent run` to the `READY=1` datagram on a unixgram "+
		"NOTIFY_SOCKET the harness listens on, with the emulator answering. The daemon sends READY=1 after "+
		"its first sync reached the metadata service, so this includes one full sync.\n\n")
	fmt.Fprintf(b, "| case | n | min | median | p90 | max |\n|---|---|---|---|---|---|\n")
	for _, s := range r.startup {
		n := len(s.times)
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s |\n", s.name, n, ms(s.times[0]), ms(s.median()),
			ms(s.times[min(n-1, n*9/10)]), ms(s.times[n-1]))
	}
	fmt.Fprintf(b, "\nReproduce: `%s`.\n\n", r.harness("startup", "-startups", fmt.Sprint(r.opts.startups)))
}

func (r *report) writeSize(b *strings.Builder) {
	if r.size == nil {
		return
	}
	fmt.Fprintf(b, "## Binary size\n\n`bin/ecs-keyagent`: %d bytes (%s), built by `make build`:\n\n```\n%s\n```\n",
		r.size.bytes, mib(r.size.bytes>>10), r.size.build)
}

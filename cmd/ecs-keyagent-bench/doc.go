// Command ecs-keyagent-bench measures the built ecs-keyagent as a whole
// process against the project's metadata emulator on loopback, and writes
// docs/benchmarks.md. `make bench` runs it after the Go
// benchmarks of package keys and passes their benchstat summary in.
//
//	ecs-keyagent-bench [--bin DIR] [--out FILE] [--gobench FILE] [--parts LIST]
//	    [--idle 10m] [--idle-fast 60s] [--rotations 100] [--startups 20]
//	    [--large-lines 100000] [--large-runs 10]
//
// Parts, each run on its own scratch tree (--root) as the invoking user:
//
//   - sync: `ecs-keyagent sync`, unchanged and changed, beside
//     docs/bench/baseline.sh (curl, temporary file, mv), with hyperfine;
//   - large: `ecs-keyagent sync` on a 100,000-line authorized_keys,
//     unchanged and changed, beside `ssh-keygen -lf` on the same file, with
//     hyperfine, then peak resident memory and CPU time from rusage;
//   - idle: resident memory and CPU time of `ecs-keyagent run` at the
//     default 30 s poll interval and at 1 s;
//   - rotation: the time from a rebind in the emulator to the new key in
//     authorized_keys, at a 1 s poll interval;
//   - startup: `run` from exec to READY=1 on a NOTIFY_SOCKET of ours;
//   - size: the stripped binary.
//
// Figures go only into the report: nothing here asserts a timing, and a
// missed target is reported as missed.
package main

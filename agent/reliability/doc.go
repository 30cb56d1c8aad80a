// Package reliability holds the agent's adversarial tests: SIGKILL
// at random points of a sync, full and read-only disks, home directories
// flipped under the agent by a racing process, hostile metadata answers,
// lockout, 100 concurrent syncs and a long run of the service. The package
// has no code of its own: everything is in _test.go files, so nothing here
// ships in a binary.
//
// Each test drives the real ecs-keyagent binary, built once per test run,
// against the metadata emulator on loopback and a scratch --root tree, and
// checks what the agent promises: it never writes outside a user's own
// ~/.ssh and sshd's configuration, never leaves a half-written or lost file,
// never turns password login off for a user without a usable key, and keeps
// working after faults.
//
// `go test` (and so `make test` and CI) runs every scenario with small
// counts. ECS_KEYAGENT_RELIABILITY=full runs them at full counts;
// ECS_KEYAGENT_SOAK sets the long run's duration. When
// ECS_KEYAGENT_RELIABILITY_RESULTS names a file, each scenario appends one
// JSON line of figures to it, and TestRenderReport with
// ECS_KEYAGENT_RELIABILITY_REPORT set renders them as docs/reliability.md:
// `make reliability` does all of that. Tests that need root (mounts,
// chown to test users) skip without it, except under CI=true, where they fail.
package reliability

// Package agent is the sync engine: Engine.Sync reads the key pairs bound in
// the instance metadata, converges each target user's
// ~/.ssh/authorized_keys (keys), then runs the sshd step (sshd), all under
// the agent's lock (Lock), and returns a Report. The report of the last
// sync is kept in the state file (/var/lib/ecs-keyagent/state.json, only
// rewritten when the result changes) and the time of every sync as the
// mtime of /run/ecs-keyagent/last-sync; LoadState and LastSync read them
// back for `status`.
//
// The one-shot `sync` and the service (package service) share the engine,
// so they share the lock, the state and every decision. Every path is taken
// under Options.Root, so the whole engine runs on a scratch tree.
package agent

// Package service is the long-running loop behind `ecs-keyagent run`: it
// schedules the engine's syncs (a boot sync as soon as the metadata service
// answers, then one every poll interval with jitter, capped exponential
// backoff while it does not answer), repairs drift as soon as inotify sees
// a managed file change, spaces out syncs when another tool keeps rewriting
// the same file, summarises repeated warnings, and keeps systemd informed:
// READY=1 after the first sync or at the boot deadline, STATUS= lines,
// RELOADING=1 and READY=1 around a reload, WATCHDOG=1 while the loop comes
// round, STOPPING=1 at the end.
//
// It owns no OS signals: the caller cancels the context to stop it and sends
// on a channel to reload it.
package service

// Package keys knows the authorized_keys format: it validates the public key
// the metadata service binds to the instance, renders it as an authorized_keys
// line, and merges a managed block of such lines into an existing file.
//
// Everything here is a pure function over bytes and values: no network, no
// configuration and no file I/O, so every rule can be tested with table tests
// and fuzzing.
//
// Decisions (the failures they guard against are other agents': keys glued
// into one line by coreos update-ssh-keys, user keys deleted by Google's
// guest-agent, PR #582):
//
//   - ParseKey accepts exactly one plain key on one line. A tab counts as a
//     field separator, as it does for sshd's sshkey_read, and is rendered as a
//     single space. A carriage return, NUL or any other control character,
//     invalid UTF-8, options and certificates are refused, never repaired.
//   - A comment is kept only if it is printable ASCII; otherwise the key is
//     still accepted and its comment dropped.
//   - The managed block is delimited by two marker lines. A line is a marker
//     if, after leading spaces and tabs, it starts with "# BEGIN ecs-keyagent"
//     or "# END ecs-keyagent", whatever follows (a "\r" included). Recognition
//     is deliberately broad, so that an edited or CRLF-converted marker is
//     still found and its keys replaced instead of a second block being
//     appended while stale keys stay usable. Structure is strict: a marker
//     without its partner, a nested or a second block is ErrDamagedBlock.
//   - Merge rewrites the whole block, markers included, in canonical form with
//     "\n" line ends; every byte outside the block is kept as it was.
package keys

// Package sshd owns everything the agent knows about the OpenSSH server: it
// reads sshd's configuration as sshd does, decides when sshd is left alone,
// turns password login off once the key bound to the instance is installed,
// and puts back what it wrote when asked to keep it.
//
// Step.Run is the sync's sshd step and Restore is `restore-sshd`; both leave
// sshd alone when there is no sshd configuration. Step.Run turns password
// logon off only when every target user has a usable key in a file sshd
// reads (AuthorizedKeysFile, with its tokens expanded for each user), and
// remembers its last result (Fingerprint) so that an idle poll does not run
// sshd -T again. Callers hold the agent's lock.
//
// It reads the configuration as sshd does (sshd_config(5)): the first value
// obtained for a keyword wins, Include globs expand in lexical order with
// relative paths under /etc/ssh, Include may sit inside Match, keywords are
// case-insensitive and ChallengeResponseAuthentication is an alias of
// KbdInteractiveAuthentication.
//
// Where a global Include in the main file comes before any setting of the
// keywords (Debian 12, Ubuntu cloud images with 50-cloud-init.conf, RHEL 9
// with 50-redhat.conf), the agent writes one drop-in, 00-ecs-keyagent.conf,
// in the directory the glob names, after checking that the glob matches that
// name and that it sorts first. Otherwise (CentOS 7, Amazon Linux 2, custom
// images) it edits the main file: a block between "# BEGIN ecs-keyagent" and
// "# END ecs-keyagent" before the first Include or Match line (the end of
// the file if there is neither), and conflicting global lines of the main file
// commented out with the prefix "#ecs-keyagent-disabled# ". Keep removes
// exactly those bytes. Match blocks are never edited (cloud-init did,
// canonical/cloud-init#3613); one that allows passwords is reported.
//
// Every change is checked with sshd -t before sshd is reloaded and undone
// if sshd rejects it: no tool in this field did (WALinuxAgent#52). The
// effective values come from sshd -T -C for each user; without an sshd to run
// (an offline tree) the agent's own parser answers and Result.CheckedBy says so.
package sshd

// Package securefs opens, reads and atomically replaces files in directories that
// other users control, as root, without being redirected by them.
//
// An agent running as root that writes ~/.ssh/authorized_keys by path can be led by
// the user to write somewhere else: Puppet's authorized_keys provider followed a
// symlinked .ssh (CVE-2011-3870), and Google's accounts daemon, DigitalOcean's droplet
// agent and Azure VMAccess all had to be fixed for symlink and hard-link attacks. The
// defences here are the ones those fixes converged on:
//
//   - every directory is reached with openat(O_DIRECTORY|O_NOFOLLOW) from the fd of its
//     parent, never by a path string, so a swapped component cannot redirect us;
//   - owner and mode are checked with fstat on the fd that is then used, so the check
//     and the use concern the same inode;
//   - files are read with O_NOFOLLOW|O_NONBLOCK after an fstatat that refuses anything
//     but a regular file, so a FIFO or device is never opened and a hard link to
//     another file (Nlink > 1) is refused;
//   - files are replaced by a temporary file created O_EXCL|O_NOFOLLOW in the same
//     directory under a random name (a fixed name once blocked Google's agent for good,
//     guest-agent PR #137), fchown and fchmod through its fd, fsync, renameat, and an
//     fsync of the directory; stale temporary files are cleaned by CleanTemp;
//   - a symlinked .ssh or authorized_keys is refused, never "fixed".
//
// # Trust rules
//
// A directory is trusted when it is owned by root or by the process's effective uid
// (so tests on t.TempDir run unprivileged) and is not writable by group or others.
// The sticky bit earns no exception: the directories above a home are walked following
// only symlinks found in trusted directories, and a sticky world-writable directory
// would let any user plant a symlink or directory under a name not yet taken.
//
// The root given to OpenHome and OpenSystemDir ("/" in production, a test tree
// otherwise) is configuration: it is opened by path and must itself be trusted, but
// its own ancestors are not examined.
//
// Below the root, OpenHome walks the home's parent (for example /home, which is a
// symlink to /var/home on some distributions) one component at a time; every
// directory reached must be trusted, and a symlink is followed only when the trusted
// directory holding it and the symlink itself belong to root or the euid, so only they
// could have made it. The home itself is opened with O_NOFOLLOW and must be owned by
// the user or root; directories and files under it likewise. "Foreign" means owned by
// anyone else. Group or other write permission is refused everywhere, as sshd's
// StrictModes does for the home, ~/.ssh and authorized_keys (sshd(8)).
//
// OpenSystemDir follows no symlinks at all below the root. Neither does
// OpenOutputDir, for a directory where the agent publishes a file for another program
// (a metrics textfile): only the directory itself must be trusted; the directories
// above it may belong to another user (Debian's /var/lib/prometheus) but must not be
// writable by group or others.
//
// Linux only.
package securefs

// Package filestamp tells, from one stat(2), whether a file may have changed
// since it was read, so that an idle poll need not read and parse again what
// it read the time before.
//
// A Stamp is a file's device, inode, type and mode, owner, link count, size,
// modification time and change time. Every write to a file, and every
// chmod, chown, link, unlink or utimensat of it, sets its change time
// (ctime) to the current time, and no system call sets ctime to a chosen
// value (inode(7), "Last status change timestamp"); a file put in place of
// another (a rename over it, a changed symbolic link) is another inode; a
// name added to or removed from a directory changes the directory's mtime
// and ctime. So restoring a file's size and mtime after an edit
// (touch -d, os.Chtimes) does not hide the edit.
//
// Timestamps are taken from a clock that advances in steps (a second on
// some filesystems, a timer tick on others), so two writes within one step
// can leave the same ctime. A stamp whose ctime is less than Settle before
// the moment it was taken is therefore not trusted, and what it describes
// is read again the next time: git's index has the same problem and the
// same answer, its "racily clean" entries.
package filestamp

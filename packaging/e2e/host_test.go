//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// emulator is the metadata emulator running on the host's loopback.
type emulator struct {
	url string
	dir string
}

// startEmulator serves metadata with a freshly generated key bound, whose
// private half is written to dir/key1.
func startEmulator(t *testing.T, dir string) *emulator {
	t.Helper()
	addr := filepath.Join(dir, "emulator.addr")
	log, err := os.Create(filepath.Join(dir, "emulator.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir(), "ecs-metadata-emulator"),
		"--listen", "127.0.0.1:0", "--generate-key", filepath.Join(dir, "key1"), "--addr-file", addr)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the emulator: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		log.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(addr)
		if err == nil && len(b) > 0 {
			return &emulator{url: strings.TrimSpace(string(b)), dir: dir}
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulator did not write %s within 10s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rebind replaces the bound key with a fresh one, as binding another key
// pair in the console does; the private half goes to dir/name.
func (e *emulator) rebind(t *testing.T, name string) string {
	t.Helper()
	key := filepath.Join(e.dir, name)
	must(t, 10*time.Second, filepath.Join(binDir(), "ecs-metadata-emulator"), "--control", e.url, "--generate-key", key)
	return key
}

// detach unbinds every key pair, as detaching the key pair in the console
// does: public-keys/ answers 404.
func (e *emulator) detach(t *testing.T) {
	t.Helper()
	must(t, 10*time.Second, filepath.Join(binDir(), "ecs-metadata-emulator"), "--control", e.url)
}

// ssh tries to log in as user on the container's sshd with the options
// given and the extra environment env, and runs a command that names the
// user it ran as.
func ssh(port int, user string, env []string, opts ...string) result {
	args := []string{"-p", strconv.Itoa(port), "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", "-F", "/dev/null"}
	args = append(args, opts...)
	args = append(args, user+"@127.0.0.1", "echo logged-in-as-$(id -un)")
	return runEnv(20*time.Second, env, "ssh", args...)
}

// sshKey logs in as root with exactly the key at path.
func sshKey(port int, key string) result { return sshKeyAs(port, "root", key) }

// sshKeyAs logs in as user with exactly the key at path; BatchMode means
// no prompt ever waits for a password.
func sshKeyAs(port int, user, key string) result {
	return ssh(port, user, nil, "-o", "BatchMode=yes", "-i", key, "-o", "IdentitiesOnly=yes",
		"-o", "PreferredAuthentications=publickey")
}

// sshPassword asks sshd for password login as root only; with BatchMode it
// cannot succeed, but sshd's refusal names the methods it still offers.
func sshPassword(port int) result {
	return ssh(port, "root", nil, "-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no",
		"-o", "PreferredAuthentications=password,keyboard-interactive")
}

// sshWithPassword logs in as user with password, by the password method
// alone, as a person typing it would. ssh reads it from the askpass
// program (see writeAskpass): SSH_ASKPASS_REQUIRE=force makes ssh use
// SSH_ASKPASS without a terminal or DISPLAY (ssh(1), ENVIRONMENT), so no
// extra package such as sshpass is needed. One prompt only: a wrong
// password is one failure, not three.
func sshWithPassword(port int, askpass, user, password string) result {
	env := []string{"SSH_ASKPASS=" + askpass, "SSH_ASKPASS_REQUIRE=force", "E2E_PASSWORD=" + password}
	return ssh(port, user, env, "-o", "BatchMode=no", "-o", "PubkeyAuthentication=no",
		"-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1")
}

// writeAskpass writes the askpass program sshWithPassword uses into dir:
// it prints $E2E_PASSWORD, which ssh passes on to it in its environment.
func writeAskpass(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "askpass")
	writeFile(t, path, 0o700, "#!/bin/sh\nprintf '%s\\n' \"$E2E_PASSWORD\"\n")
	return path
}

// loggedIn reports whether r is a successful login as root.
func loggedIn(r result) bool { return loggedInAs(r, "root") }

// loggedInAs reports whether r is a successful login as user.
func loggedInAs(r result, user string) bool {
	return r.err == nil && strings.Contains(r.stdout, "logged-in-as-"+user+"\n")
}

// refused reports whether sshd turned r down offering exactly methods, as
// in "Permission denied (publickey).". A connection that failed for another
// reason (sshd re-executing itself on a reload) is neither refused nor in.
func refused(r result, methods string) bool {
	return r.err != nil && strings.Contains(r.stderr, fmt.Sprintf("Permission denied (%s).", methods))
}

// wantMethods checks that sshd refused r offering exactly methods, as in
// "Permission denied (publickey).".
func wantMethods(t *testing.T, what string, r result, methods string) {
	t.Helper()
	want := fmt.Sprintf("Permission denied (%s).", methods)
	if r.err == nil || !strings.Contains(r.stderr, want) {
		t.Errorf("%s: want %q\n%s", what, want, r)
	}
}

// snapshot maps each regular file under dir to its mode and content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		m[strings.TrimPrefix(p, dir)] = fmt.Sprintf("%v %q", fi.Mode(), b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

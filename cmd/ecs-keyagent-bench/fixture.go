package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

const benchUser = "bench"

// handKeys are the lines a user added by hand: the agent keeps them, the
// baseline script does not.
const handKeys = "# my laptop\n" +
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl laptop\n" +
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqrBz4JyBKHYOA2yFNzkD7vvbYEdBJrm0JEDAqCf2Wm ci\n"

// tree is a scratch filesystem root for --root: one login user (the
// invoking uid, as `make demo` does), its authorized_keys, and sshd laid
// out like an Ubuntu cloud image, so the sshd step runs its own parser.
type tree struct {
	root string
	keys string // the user's authorized_keys, a real path
}

func newTree(dir string) (*tree, error) {
	t := &tree{root: filepath.Join(dir, "root")}
	t.keys = filepath.Join(t.root, "home", benchUser, ".ssh", "authorized_keys")
	files := []struct {
		path, content string
		mode          os.FileMode
	}{
		{"etc/passwd", fmt.Sprintf("%s:x:%d:%d::/home/%s:/bin/sh\n", benchUser, os.Getuid(), os.Getgid(), benchUser), 0o644},
		{"etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n", 0o644},
		{"etc/ssh/sshd_config.d/50-cloud-init.conf", "PasswordAuthentication yes\n", 0o644},
		{"home/" + benchUser + "/.ssh/authorized_keys", handKeys, 0o600},
	}
	for _, f := range files {
		p := filepath.Join(t.root, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(f.content), f.mode); err != nil {
			return nil, err
		}
	}
	return t, os.Chmod(filepath.Dir(t.keys), 0o700)
}

// setPollInterval writes the default configuration file under the root.
func (t *tree) setPollInterval(d time.Duration) error {
	p := filepath.Join(t.root, "etc/ecs-keyagent/config.toml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, fmt.Appendf(nil, "poll_interval = %q\n", d.String()), 0o644)
}

// syncArgs is the one-shot command on this tree.
func (t *tree) syncArgs(bin, url string) []string {
	return []string{agentBin(bin), "sync", "--root", t.root, "--endpoint", url, "--user", benchUser}
}

// runCmd is the service on this tree, NOTIFY_SOCKET set to notify or unset.
func (t *tree) runCmd(bin, url, notify string) *exec.Cmd {
	cmd := exec.Command(agentBin(bin), "run", "--root", t.root, "--endpoint", url, "--user", benchUser)
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "NOTIFY_SOCKET=") && !strings.HasPrefix(e, "WATCHDOG_") && !strings.HasPrefix(e, "JOURNAL_STREAM=") {
			env = append(env, e)
		}
	}
	if notify != "" {
		env = append(env, "NOTIFY_SOCKET="+notify)
	}
	cmd.Env = env
	return cmd
}

// stop sends SIGTERM, as systemd does, and waits.
func stop(cmd *exec.Cmd) error {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	return cmd.Wait()
}

// emulator is ecs-metadata-emulator running on loopback.
type emulator struct {
	cmd *exec.Cmd
	url string
}

func startEmulator(bin, dir string) (*emulator, error) {
	addr := filepath.Join(dir, "emulator.addr")
	log, err := os.Create(filepath.Join(dir, "emulator.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	// As on ECS, the emulator serves the tree as one JSON document too.
	cmd := exec.Command(emulatorBin(bin), "--listen", "127.0.0.1:0", "--generate-key", filepath.Join(dir, "id_bound"), "--addr-file", addr,
		"--all-document")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(addr); err == nil && len(b) > 0 {
			return &emulator{cmd: cmd, url: strings.TrimSpace(string(b))}, nil
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil, fmt.Errorf("start emulator: no address after 10s; see %s", log.Name())
}

func (e *emulator) close() { stop(e.cmd) } //nolint:errcheck // exit status of a killed helper

// bind replaces the bound keys with one key body through the control API;
// it returns once the emulator answered, so the new key is being served.
func (e *emulator) bind(ctx context.Context, body string) error {
	req, err := json.Marshal([]map[string]string{{"id": "skp-1", "body": body}})
	if err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPut, e.url+"/emulator/keys", bytes.NewReader(req))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return fmt.Errorf("bind key: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("bind key: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// newKeyLine returns a fresh ed25519 public key as an authorized_keys line.
func newKeyLine(comment string) (string, error) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment, nil
}

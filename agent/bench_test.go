package agent

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

// BenchmarkEngineSync is one poll of the daemon that finds everything in
// place, in process: the engine against the emulator on loopback and a
// scratch root owned by the invoking user, sshd laid out like an Ubuntu
// cloud image. It is where the idle service's CPU time goes; profile it with
// -cpuprofile.
func BenchmarkEngineSync(b *testing.B) {
	root := b.TempDir()
	files := map[string]string{
		"etc/passwd":          fmt.Sprintf("bench:x:%d:%d::/home/bench:/bin/sh\n", os.Getuid(), os.Getgid()),
		"etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n",
		"etc/ssh/sshd_config.d/50-cloud-init.conf": "PasswordAuthentication yes\n",
		"home/bench/.ssh/authorized_keys":          "# my laptop\n" + benchKeyLine(b, 1) + " laptop\n",
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	for _, dir := range []string{"etc", "etc/ssh", "etc/ssh/sshd_config.d", "home", "home/bench"} {
		if err := os.Chmod(filepath.Join(root, dir), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	imds := emulator.New()
	imds.SetKeys(emulator.Key{ID: "skp-bench", Body: benchKeyLine(b, 2)})
	hs := httptest.NewServer(imds)
	b.Cleanup(hs.Close)
	cfg := config.Default()
	cfg.Endpoint, cfg.Users = metadata.Endpoint(hs.URL), []string{"bench"}
	eng := NewEngine(Options{Config: cfg, Root: root})
	ctx := context.Background()
	if r := eng.Sync(ctx); r.Outcome != OutcomeOK {
		b.Fatalf("first Sync: outcome %s: %s", r.Outcome, r.Error)
	}
	b.ReportAllocs()
	for b.Loop() {
		r := eng.Sync(ctx)
		if r.Outcome != OutcomeOK || r.Changed() {
			b.Fatalf("Sync: outcome %s, changed %v: %s", r.Outcome, r.Changed(), r.Error)
		}
	}
}

func benchKeyLine(b *testing.B, seed byte) string {
	b.Helper()
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	pub, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(s).Public())
	if err != nil {
		b.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}

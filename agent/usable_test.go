package agent_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

// rsaLine is an authorized_keys line for an RSA public key of the given
// size; only the public half matters, so it is a random odd modulus.
func rsaLine(t *testing.T, bits int, comment string) string {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, bits-1, 1).SetBit(n, 0, 1)
	pub, err := ssh.NewPublicKey(&rsa.PublicKey{N: n, E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " " + comment
}

// The managed block's key settles whether sshd has a usable key, without
// reading the user's own lines; those matter only when sshd's
// PubkeyAcceptedAlgorithms refuses the block's key type, and then the
// logon model reads them (the engine's lazy MoreKeyTypes).
func TestBlockSettlesUsableKeys(t *testing.T) {
	bound := agenttest.SeededKeyLine(t, 7) + " skp-bound"
	own := agenttest.SeededKeyLine(t, 8) + " laptop"
	ownRSA := rsaLine(t, 2048, "old-laptop")
	const rsaOnly = "PubkeyAcceptedAlgorithms rsa-sha2-512,rsa-sha2-256\n"
	tests := []struct {
		name     string
		algs     string // a drop-in's PubkeyAcceptedAlgorithms, "" for sshd's default
		file     string // the user's own lines
		usable   int    // UserReport.Usable
		passOff  bool   // password logon turned off
		skipped  string // substring of the sshd step's Skipped
		keyTypes string // substring of the key way's gate, when closed
	}{
		{name: "default algorithms: the block's key counts, the rest is not read",
			file: own + "\n" + ownRSA + "\n", usable: 1, passOff: true},
		{name: "block's type refused, the user's RSA key accepted",
			algs: rsaOnly, file: own + "\n" + ownRSA + "\n", usable: 1, passOff: true},
		{name: "block's type refused and every other key's too",
			algs: rsaOnly, file: own + "\n", usable: 1, skipped: "accepts none of the key types ssh-ed25519"},
		{name: "no other key at all",
			algs: rsaOnly, file: "# nothing of mine\n", usable: 1, skipped: "accepts none of the key types ssh-ed25519"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng, tree, user := blockFixture(t, bound, tt.algs)
			tree.WriteKeys(user, tt.file)
			r := eng.Sync(context.Background())
			if r.Outcome != agent.OutcomeOK || len(r.Users) != 1 {
				t.Fatalf("Sync = %s %q, %d users", r.Outcome, r.Error, len(r.Users))
			}
			if got := r.Users[0].Usable; got != tt.usable {
				t.Errorf("Usable = %d, want %d", got, tt.usable)
			}
			if r.SSHD == nil {
				t.Fatal("no sshd step")
			}
			if off := len(r.SSHD.Changed) > 0 && r.SSHD.Skipped == ""; off != tt.passOff {
				t.Errorf("password logon turned off = %v, want %v (sshd step %+v)", off, tt.passOff, r.SSHD)
			}
			if !strings.Contains(r.SSHD.Skipped, tt.skipped) {
				t.Errorf("sshd step skipped %q, want it to say %q", r.SSHD.Skipped, tt.skipped)
			}
		})
	}
}

// The sshd step is not cached when the model read the user's own keys:
// once they change, the next poll sees it.
func TestMoreKeyTypesNotCached(t *testing.T) {
	bound := agenttest.SeededKeyLine(t, 7) + " skp-bound"
	eng, tree, user := blockFixture(t, bound, "PubkeyAcceptedAlgorithms rsa-sha2-512\n")
	tree.WriteKeys(user, agenttest.SeededKeyLine(t, 8)+" laptop\n")
	r := eng.Sync(context.Background())
	if r.Outcome != agent.OutcomeOK || r.SSHD == nil || !strings.Contains(r.SSHD.Skipped, "accepts none") {
		t.Fatalf("first Sync = %s %q, sshd %+v; want passwords left on", r.Outcome, r.Error, r.SSHD)
	}
	r = eng.Sync(context.Background())
	if r.SSHD == nil || !strings.Contains(r.SSHD.Skipped, "accepts none") {
		t.Fatalf("second Sync: sshd %+v; want passwords still left on", r.SSHD)
	}
	// The user adds an RSA key by hand: the block is unchanged, the model's
	// answer is not.
	keys := tree.KeysFile(user)
	data, err := os.ReadFile(keys)
	if err != nil {
		t.Fatal(err)
	}
	tree.WriteKeys(user, string(data)+rsaLine(t, 3072, "new-laptop")+"\n")
	r = eng.Sync(context.Background())
	if r.SSHD == nil || r.SSHD.Skipped != "" || len(r.SSHD.Changed) == 0 {
		t.Fatalf("after the user's RSA key, sshd step %+v; want password logon turned off", r.SSHD)
	}
}

// blockFixture is an engine on an agenttest tree laid out like an Ubuntu
// cloud image, plus algs as a drop-in that sorts before cloud-init's, and
// the emulator binding bound.
func blockFixture(t *testing.T, bound, algs string) (*agent.Engine, *agenttest.Root, agenttest.Account) {
	t.Helper()
	tree := agenttest.NewRoot(t)
	user := tree.AddUser("alice")
	agenttest.Layout(t, tree.Dir, "ubuntu-cloud")
	if algs != "" {
		tree.WriteFile("etc/ssh/sshd_config.d/10-algorithms.conf", algs, 0o644, -1, -1)
	}
	imds := emulator.New()
	imds.SetKeys(emulator.Key{ID: "skp-bound", Body: bound})
	hs := httptest.NewServer(imds)
	t.Cleanup(hs.Close)
	cfg := config.Default()
	cfg.Endpoint, cfg.Users = metadata.Endpoint(hs.URL), []string{user.Name}
	eng := agent.NewEngine(agent.Options{Config: cfg, Root: tree.Dir})
	t.Cleanup(eng.Close)
	return eng, tree, user
}

package service

import (
	"os"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

// Another program that rewrites authorized_keys after every repair (a
// configuration-management run fighting the agent): after a few repairs
// the service says so once, naming the file, and spaces its repairs out
// instead of rewriting as fast as the other side.
func TestServiceFight(t *testing.T) {
	f := newFixture(t, "alice")
	k1 := newKey(t, "k1")
	f.imds.SetKeys(emulator.Key{ID: "skp-1", Body: k1})
	core, logs := observer.New(zapcore.InfoLevel)
	f.start(func(o *Options) { o.Engine.Logger = zap.New(core) })
	f.waitNote("READY=1", isReady)
	file := f.keysFile("alice")
	other := newKey(t, "managed-elsewhere") + "\n"
	fights := func() int {
		return logs.FilterMessageSnippet("another program keeps rewriting /home/alice/.ssh/authorized_keys").Len()
	}
	for i := 0; i < 50 && fights() == 0; i++ {
		f.eventually("the agent's repair", func() bool { return strings.Contains(f.read(file), keyBody(k1)) })
		if err := os.WriteFile(file, []byte(other), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if fights() != 1 {
		t.Fatalf("fight warnings = %d, want exactly 1 naming /home/alice/.ssh/authorized_keys; logs: %v", fights(), logs.All())
	}
	// More rounds: still one warning, not one per repair.
	for range 3 {
		f.eventually("the agent's repair", func() bool { return strings.Contains(f.read(file), keyBody(k1)) })
		if err := os.WriteFile(file, []byte(other), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f.eventually("the agent's last repair", func() bool { return strings.Contains(f.read(file), keyBody(k1)) })
	if fights() != 1 {
		t.Errorf("fight warnings after more rounds = %d, want still 1", fights())
	}
}

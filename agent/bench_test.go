package agent

import (
	"context"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
	"github.com/ecs-keyagent/ecs-keyagent/agent/filestamp"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

// BenchmarkEngineSync is one poll of the daemon that finds everything in
// place, in process: the engine against the emulator on loopback and an
// agenttest scratch root whose user is the one running it, sshd laid out
// like an Ubuntu cloud image. "all" reads the metadata as ECS serves it,
// the whole tree in one JSON document; "tree" crawls a service that does
// not serve that document. It is where the idle service's CPU time goes;
// profile it with -cpuprofile.
func BenchmarkEngineSync(b *testing.B) {
	for _, all := range []bool{true, false} {
		name := "tree"
		if all {
			name = "all"
		}
		b.Run(name, func(b *testing.B) {
			tree := agenttest.NewRoot(b)
			tree.WriteKeys(tree.AddUser("bench"), "# my laptop\n"+agenttest.SeededKeyLine(b, 1)+" laptop\n")
			agenttest.Layout(b, tree.Dir, "ubuntu-cloud")
			root := tree.Dir
			imds := emulator.New()
			imds.SetAllDocument(all)
			imds.SetKeys(emulator.Key{ID: "skp-bench", Body: agenttest.SeededKeyLine(b, 2)})
			eng := servedEngine(b, root, "bench", imds)
			ctx := context.Background()
			if r := eng.Sync(ctx); r.Outcome != OutcomeOK {
				b.Fatalf("first Sync: outcome %s: %s", r.Outcome, r.Error)
			}
			// A file changed less than filestamp.Settle ago is read again at
			// every poll; on an instance the files are older than that.
			time.Sleep(filestamp.Settle)
			if r := eng.Sync(ctx); r.Outcome != OutcomeOK {
				b.Fatalf("second Sync: outcome %s: %s", r.Outcome, r.Error)
			}
			b.ReportAllocs()
			for b.Loop() {
				r := eng.Sync(ctx)
				if r.Outcome != OutcomeOK || r.Changed() {
					b.Fatalf("Sync: outcome %s, changed %v: %s", r.Outcome, r.Changed(), r.Error)
				}
			}
		})
	}
}

package metadata_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

// When the configured endpoint cannot be reached at all, the fallback
// (ECS's IPv6 address; here [::1]) is asked, and the snapshot says which
// answered; an HTTP error from the configured one is not a reason to
// switch.
func TestFallbackOverIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		agenttest.SkipOrFail(t, "no IPv6 loopback: %v", err)
	}
	srv := emulator.New()
	srv.SetKeys(emulator.Key{ID: "skp-1", Body: agenttest.KeyLine(t, "k1")})
	hs := httptest.NewUnstartedServer(srv)
	hs.Listener = ln
	hs.Start()
	defer hs.Close()

	refused := fmt.Sprintf("http://127.0.0.1:%d", agenttest.FreePort(t))
	c := metadata.New(metadata.Config{Endpoint: refused, Fallback: hs.URL})
	defer c.CloseIdleConnections()
	snap, err := c.Fetch(t.Context())
	if err != nil || len(snap.Keys) != 1 || snap.Endpoint != hs.URL {
		t.Fatalf("Fetch with the IPv4 endpoint refused = %+v, %v; want the key from %s", snap, err, hs.URL)
	}
	// It stays on the endpoint that answered.
	if snap, err = c.Fetch(t.Context()); err != nil || snap.Endpoint != hs.URL {
		t.Errorf("second Fetch = %+v, %v; want %s again", snap, err, hs.URL)
	}

	// A 500 is an answer: no fallback.
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer failing.Close()
	c2 := metadata.New(metadata.Config{Endpoint: failing.URL, Fallback: hs.URL})
	defer c2.CloseIdleConnections()
	if snap, err := c2.Fetch(t.Context()); err == nil || snap.Endpoint != failing.URL {
		t.Errorf("Fetch with a 500 = %+v, %v; want the error from %s, no fallback", snap, err, failing.URL)
	}
}

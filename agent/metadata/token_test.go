package metadata_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

func TestTokenModes(t *testing.T) {
	tests := []struct {
		name      string
		policy    emulator.TokenPolicy
		mode      metadata.TokenMode
		wantErr   string // substring; "" for success
		wantToken bool   // GETs carried a token
		wantPUTs  int
	}{
		{name: "enforced auto", policy: emulator.TokenEnforced, mode: metadata.TokenAuto, wantToken: true, wantPUTs: 1},
		{name: "optional auto", policy: emulator.TokenOptional, mode: metadata.TokenAuto, wantToken: true, wantPUTs: 1},
		{name: "enforced required", policy: emulator.TokenEnforced, mode: metadata.TokenRequired, wantToken: true, wantPUTs: 1},
		{name: "none auto falls back", policy: emulator.TokenNone, mode: metadata.TokenAuto, wantPUTs: 1},
		{name: "none required", policy: emulator.TokenNone, mode: metadata.TokenRequired, wantErr: "404 Not Found: the service issues no tokens and token mode is required", wantPUTs: 1},
		{name: "disabled auto", policy: emulator.TokenDisabled, mode: metadata.TokenAuto, wantErr: "403 Forbidden: metadata access is disabled", wantPUTs: 1},
		{name: "disabled required", policy: emulator.TokenDisabled, mode: metadata.TokenRequired, wantErr: "metadata access is disabled", wantPUTs: 1},
		{name: "optional off", policy: emulator.TokenOptional, mode: metadata.TokenOff},
		{name: "enforced off", policy: emulator.TokenEnforced, mode: metadata.TokenOff, wantErr: "403 Forbidden: the instance may enforce security-hardening mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, url := newEmulator(t)
			emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
			emu.SetTokenPolicy(tt.policy)
			c := newClient(t, metadata.Config{Endpoint: url, Token: tt.mode})

			snap, err := c.Fetch(t.Context())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Fetch error = %v, want one containing %q", err, tt.wantErr)
				}
			} else if err != nil || len(snap.Keys) != 1 {
				t.Fatalf("Fetch = %+v, %v; want one key", snap, err)
			}
			if n := count(emu, "PUT", tokenPath); n != tt.wantPUTs {
				t.Errorf("token PUTs = %d, want %d", n, tt.wantPUTs)
			}
			for _, r := range emu.Requests() {
				if r.Method == "GET" && r.Token != tt.wantToken {
					t.Errorf("GET %s carried a token: %v, want %v", r.Path, r.Token, tt.wantToken)
				}
			}
		})
	}
}

func TestTokenPutAnswers(t *testing.T) {
	tests := []struct {
		name    string
		fault   emulator.Fault
		wantErr string // substring; "" for a tokenless success
	}{
		{name: "405 falls back", fault: emulator.Fault{Status: 405}},
		{name: "500", fault: emulator.Fault{Status: 500}, wantErr: "request token from URL/latest/api/token: 500 Internal Server Error"},
		{name: "400", fault: emulator.Fault{Status: 400}, wantErr: "400 Bad Request"},
		{name: "redirect", fault: emulator.Fault{RedirectTo: "http://192.0.2.1/"}, wantErr: "302 Found: refusing to follow a redirect"},
		{name: "empty token", fault: emulator.Fault{Body: []byte("\n")}, wantErr: "empty token"},
		{name: "control char", fault: emulator.Fault{Body: []byte("tok\x01en")}, wantErr: "printable ascii"},
		{name: "space inside", fault: emulator.Fault{Body: []byte("tok en")}, wantErr: "printable ascii"},
		{name: "oversized", fault: emulator.Fault{BodySize: 4<<10 + 1}, wantErr: "exceeds the limit of 4096"},
		{name: "dropped", fault: emulator.Fault{Drop: true}, wantErr: "request token from URL/latest/api/token: read body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, url := newEmulator(t)
			emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
			emu.SetFault(tokenPath, tt.fault)
			c := newClient(t, metadata.Config{Endpoint: url})

			_, err := c.Fetch(t.Context())
			want := strings.ReplaceAll(tt.wantErr, "URL", url)
			switch {
			case want == "" && err != nil:
				t.Errorf("Fetch: %v", err)
			case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("Fetch error = %v, want one containing %q", err, want)
			}
		})
	}
}

func TestTokenReusedAcrossFetches(t *testing.T) {
	emu, url := newEmulator(t)
	emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
	emu.SetTokenPolicy(emulator.TokenEnforced)
	c := newClient(t, metadata.Config{Endpoint: url})
	for i := range 3 {
		if _, err := c.Fetch(t.Context()); err != nil {
			t.Fatalf("Fetch %d: %v", i, err)
		}
	}
	if n := count(emu, "PUT", tokenPath); n != 1 {
		t.Errorf("token PUTs = %d, want 1", n)
	}
}

func TestExpiredTokenRenewedOnce(t *testing.T) {
	emu, url := newEmulator(t)
	emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
	emu.SetTokenPolicy(emulator.TokenEnforced)
	c := newClient(t, metadata.Config{Endpoint: url})
	if _, err := c.Fetch(t.Context()); err != nil {
		t.Fatalf("first Fetch: %v", err)
	}
	emu.ExpireTokens()
	if _, err := c.Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch after ExpireTokens: %v", err)
	}
	if n := count(emu, "PUT", tokenPath); n != 2 {
		t.Errorf("token PUTs = %d, want 2", n)
	}
	// first Fetch, the refused GET, its retry (the instance id is read
	// once, so the listing is the first GET of the second Fetch)
	if n := count(emu, "GET", keysPath); n != 3 {
		t.Errorf("GETs of public-keys/ = %d, want 3", n)
	}
}

func TestEndless401IsBounded(t *testing.T) {
	emu, url := newEmulator(t)
	emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
	emu.SetFault(idPath, emulator.Fault{Status: 401})
	c := newClient(t, metadata.Config{Endpoint: url})

	_, err := c.Fetch(t.Context())
	want := "fetch " + url + idPath + ": 401 Unauthorized: token refused again after renewal"
	if err == nil || err.Error() != want {
		t.Errorf("Fetch error = %v, want %q", err, want)
	}
	if n := count(emu, "PUT", tokenPath); n != 2 {
		t.Errorf("token PUTs = %d, want 2", n)
	}
	if n := count(emu, "GET", idPath); n != 2 {
		t.Errorf("GETs of instance-id = %d, want 2", n)
	}
}

// clock is a settable time source for token expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestTokenRefreshedAtFourFifthsOfTTL(t *testing.T) {
	emu, url := newEmulator(t)
	emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
	emu.SetTokenPolicy(emulator.TokenEnforced)
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := newClient(t, metadata.Config{Endpoint: url, TokenTTL: 100 * time.Second, Now: clk.Now})

	steps := []struct {
		advance  time.Duration
		wantPUTs int
	}{
		{0, 1},
		{79 * time.Second, 1},
		{2 * time.Second, 2}, // 81 s: past 0.8 x 100 s
		{79 * time.Second, 2},
		{time.Second, 3},
	}
	for i, s := range steps {
		clk.advance(s.advance)
		if _, err := c.Fetch(t.Context()); err != nil {
			t.Fatalf("step %d: Fetch: %v", i, err)
		}
		if n := count(emu, "PUT", tokenPath); n != s.wantPUTs {
			t.Errorf("step %d: token PUTs = %d, want %d", i, n, s.wantPUTs)
		}
	}
}

func TestFallbackAsksForTokenAfter403(t *testing.T) {
	emu, url := newEmulator(t)
	emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
	emu.SetTokenPolicy(emulator.TokenNone)
	c := newClient(t, metadata.Config{Endpoint: url})
	if _, err := c.Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch without token support: %v", err)
	}
	if _, err := c.Fetch(t.Context()); err != nil {
		t.Fatalf("second Fetch without token support: %v", err)
	}
	if n := count(emu, "PUT", tokenPath); n != 1 {
		t.Errorf("token PUTs while tokens unsupported = %d, want 1 (fallback remembered)", n)
	}

	emu.SetTokenPolicy(emulator.TokenEnforced)
	if _, err := c.Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch after the instance turned hardened mode on: %v", err)
	}
	if n := count(emu, "PUT", tokenPath); n != 2 {
		t.Errorf("token PUTs = %d, want 2", n)
	}
}

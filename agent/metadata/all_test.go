package metadata_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

// tokenModes are the service's token policies with the client's modes
// that work against them: hardened (tokens enforced), optional, and a
// service without tokens (the PUT answers 404), plus a client that never
// asks for one.
var tokenModes = []struct {
	name   string
	policy emulator.TokenPolicy
	mode   metadata.TokenMode
}{
	{"hardened", emulator.TokenEnforced, metadata.TokenAuto},
	{"hardened, token required", emulator.TokenEnforced, metadata.TokenRequired},
	{"optional", emulator.TokenOptional, metadata.TokenAuto},
	{"tokenless service", emulator.TokenNone, metadata.TokenAuto},
	{"token off", emulator.TokenOptional, metadata.TokenOff},
}

// Both ways of reading the keys give the same snapshot, in every token
// mode: the all document where the service serves it, in one request per
// poll once the token is held; the crawl after one 404 there, which the
// client remembers.
func TestFetchBothPaths(t *testing.T) {
	for _, all := range []bool{true, false} {
		for _, m := range tokenModes {
			name := m.name + ", crawl"
			if all {
				name = m.name + ", all document"
			}
			t.Run(name, func(t *testing.T) {
				emu, url := newEmulator(t)
				emu.SetAllDocument(all)
				emu.SetTokenPolicy(m.policy)
				emu.SetKeys(emulator.Key{ID: "skp-a", Body: keyA + "\n"}, emulator.Key{ID: "skp-b", Body: keyB})
				c := newClient(t, metadata.Config{Endpoint: url, Token: m.mode})
				want := metadata.SourceTree
				if all {
					want = metadata.SourceAll
				}
				for poll := 1; poll <= 3; poll++ {
					before := len(emu.Requests())
					snap, err := c.Fetch(t.Context())
					if err != nil {
						t.Fatalf("poll %d: Fetch: %v", poll, err)
					}
					var got []string
					for _, k := range snap.Keys {
						got = append(got, k.ID+"="+strings.TrimSpace(string(k.Body)))
					}
					if strings.Join(got, "|") != "skp-a="+keyA+"|skp-b="+keyB || snap.InstanceID != emulator.DefaultInstanceID || snap.Source != want {
						t.Errorf("poll %d: Fetch = %s %q from %s, want %s, skp-a and skp-b from %s", poll, snap.InstanceID, got, snap.Source,
							emulator.DefaultInstanceID, want)
					}
					reqs := emu.Requests()[before:]
					gets := 0
					for _, r := range reqs {
						if r.Method == "GET" {
							gets++
						}
						if r.Path == allPath && !all && poll > 1 {
							t.Errorf("poll %d asked for the all document after its 404", poll)
						}
						if r.Token != (m.policy != emulator.TokenNone && m.mode != metadata.TokenOff) && r.Method == "GET" {
							t.Errorf("poll %d: GET %s carried a token: %v", poll, r.Path, r.Token)
						}
					}
					// The crawl: the listing (0/, 1/, skp-a/, skp-b/) and four
					// openssh-key bodies; the instance id once.
					wantGets := 5
					switch {
					case all:
						wantGets = 1
					case poll == 1:
						wantGets = 7 // the all document's 404 and the instance id too
					}
					if gets != wantGets {
						t.Errorf("poll %d: %d GETs, want %d: %+v", poll, gets, wantGets, reqs)
					}
				}
			})
		}
	}
}

// With no key bound the document has no public-keys: only the listing's
// 404 may say "no key", so the client asks for it.
func TestFetchAllNoKeyBound(t *testing.T) {
	for _, m := range tokenModes {
		t.Run(m.name, func(t *testing.T) {
			emu, url := newEmulator(t)
			emu.SetAllDocument(true)
			emu.SetTokenPolicy(m.policy)
			emu.SetInstanceID("i-nokey")
			c := newClient(t, metadata.Config{Endpoint: url, Token: m.mode})
			snap, err := c.Fetch(t.Context())
			if !errors.Is(err, metadata.ErrNoKeyBound) || snap.InstanceID != "i-nokey" || len(snap.Keys) != 0 {
				t.Fatalf("Fetch = %+v, %v; want i-nokey and ErrNoKeyBound", snap, err)
			}
			if count(emu, "GET", allPath) != 1 || count(emu, "GET", keysPath) != 1 || count(emu, "GET", idPath) != 0 {
				t.Errorf("requests %+v, want the document, then the listing", emu.Requests())
			}
			// A key bound now is read from the document alone.
			emu.SetKeys(emulator.Key{ID: "skp-a", Body: keyA})
			if snap, err = c.Fetch(t.Context()); err != nil || len(snap.Keys) != 1 || snap.Keys[0].ID != "skp-a" {
				t.Fatalf("after binding, Fetch = %+v, %v", snap, err)
			}
			if count(emu, "GET", keysPath) != 1 {
				t.Errorf("after binding, the listing was read again")
			}
		})
	}
}

// Every fault the crawl path is held to (TestFetchFailures), on the all
// document: each is an error naming its URL, never ErrNoKeyBound, never a
// crawl behind its back, and it changes nothing for the next poll.
func TestFetchAllFailures(t *testing.T) {
	tests := []struct {
		name    string
		fault   emulator.Fault
		timeout time.Duration
		want    string // substring of the error; URL stands for the emulator's
	}{
		{name: "500", fault: emulator.Fault{Status: 500}, want: "fetch URL/latest/meta-data/all: 500 Internal Server Error"},
		{name: "503", fault: emulator.Fault{Status: 503}, want: "fetch URL/latest/meta-data/all: 503 Service Unavailable"},
		{name: "403 without a token", fault: emulator.Fault{Status: 403}, want: "fetch URL/latest/meta-data/all: 403 Forbidden"},
		{name: "redirect", fault: emulator.Fault{RedirectTo: "/latest/meta-data/public-keys/"},
			want: `fetch URL/latest/meta-data/all: 302 Found: refusing to follow a redirect to "/latest/meta-data/public-keys/"`},
		{name: "301 elsewhere", fault: emulator.Fault{Status: 301, RedirectTo: "http://192.0.2.1/"}, want: "301 Moved Permanently: refusing to follow a redirect"},
		{name: "over 512 KiB", fault: emulator.Fault{BodySize: 512<<10 + 1}, want: "fetch URL/latest/meta-data/all: body of 524289 bytes exceeds the limit of 524288"},
		{name: "slow drip", fault: emulator.Fault{Drip: 20 * time.Millisecond}, timeout: 150 * time.Millisecond,
			want: "fetch URL/latest/meta-data/all: no complete answer within 150ms"},
		{name: "slow answer", fault: emulator.Fault{Delay: time.Minute}, timeout: 100 * time.Millisecond,
			want: "fetch URL/latest/meta-data/all: no complete answer within 100ms"},
		{name: "dropped connection", fault: emulator.Fault{Drop: true}, want: "fetch URL/latest/meta-data/all: read body: "},
		{name: "not json", fault: emulator.Fault{Body: []byte("0/\nskp-x/\n")}, want: "fetch URL/latest/meta-data/all: malformed JSON"},
		{name: "empty", fault: emulator.Fault{Body: []byte{}}, want: "fetch URL/latest/meta-data/all: malformed JSON"},
		{name: "a list", fault: emulator.Fault{Body: []byte(`[{"instance-id":"i-x"}]`)}, want: "fetch URL/latest/meta-data/all: not a JSON object"},
		{name: "no instance-id", fault: emulator.Fault{Body: []byte(`{"public-keys":{"skp-x":"` + keyA + `"}}`)}, want: "no instance-id"},
		{name: "instance-id control char", fault: emulator.Fault{Body: []byte(`{"instance-id":"i-\u001b[2J"}`)}, want: "printable ascii"},
		{name: "key id dot-dot", fault: emulator.Fault{Body: []byte(`{"instance-id":"i-x","public-keys":{"../x":"` + keyA + `"}}`)},
			want: `fetch URL/latest/meta-data/all: malformed public-keys entry "../x"`},
		{name: "key over 64 KiB", fault: emulator.Fault{Body: []byte(`{"instance-id":"i-x","public-keys":{"a":"` + strings.Repeat("A", 64<<10+1) + `"}}`)},
			want: "exceeds the limit of 65536"},
		{name: "truncated", fault: emulator.Fault{Body: []byte(`{"instance-id":"i-x","public-keys":{"a":"`)}, want: "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, url := newEmulator(t)
			emu.SetAllDocument(true)
			emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
			emu.SetFault(allPath, tt.fault)
			c := newClient(t, metadata.Config{Endpoint: url, RequestTimeout: tt.timeout})

			snap, err := c.Fetch(t.Context())
			want := strings.ReplaceAll(tt.want, "URL", url)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Fetch = %+v, %v; want error containing %q", snap, err, want)
			}
			if errors.Is(err, metadata.ErrNoKeyBound) {
				t.Errorf("Fetch error %v wraps ErrNoKeyBound; only a 404 on public-keys/ may", err)
			}
			if len(snap.Keys) != 0 {
				t.Errorf("Fetch returned keys %q with an error", snap.Keys)
			}
			if n := count(emu, "GET", keysPath); n != 0 {
				t.Errorf("the listing was read %d times after the document failed", n)
			}
			emu.ClearFaults()
			if snap, err := c.Fetch(t.Context()); err != nil || snap.Source != metadata.SourceAll {
				t.Errorf("after the fault, Fetch = %+v, %v; want the document read", snap, err)
			}
		})
	}
}

// A 404 on the document is the one answer that sends the client to the
// crawl, whose own faults then apply.
func TestFetchAllFallsBackOn404(t *testing.T) {
	emu, url := newEmulator(t)
	emu.SetAllDocument(true)
	emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
	emu.SetFault(allPath, emulator.Fault{Status: 404})
	emu.SetFault(keysPath, emulator.Fault{Status: 500, Times: 1})
	c := newClient(t, metadata.Config{Endpoint: url})
	if _, err := c.Fetch(t.Context()); err == nil || !strings.Contains(err.Error(), url+keysPath+": 500") {
		t.Fatalf("Fetch error = %v, want the listing's 500", err)
	}
	snap, err := c.Fetch(t.Context())
	if err != nil || snap.Source != metadata.SourceTree || len(snap.Keys) != 1 {
		t.Fatalf("Fetch = %+v, %v; want the key from the crawl", snap, err)
	}
	if n := count(emu, "GET", allPath); n != 1 {
		t.Errorf("the document was asked for %d times, want once: its 404 is remembered", n)
	}
}

// The token rules hold for the document: an expired token is renewed once,
// a service that turns hardened mode on after a tokenless fallback gets a
// token, and a client whose token mode is off is told why it is refused.
func TestFetchAllTokens(t *testing.T) {
	emu, url := newEmulator(t)
	emu.SetAllDocument(true)
	emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
	emu.SetTokenPolicy(emulator.TokenEnforced)
	c := newClient(t, metadata.Config{Endpoint: url})
	if _, err := c.Fetch(t.Context()); err != nil {
		t.Fatal(err)
	}
	emu.ExpireTokens()
	if _, err := c.Fetch(t.Context()); err != nil {
		t.Fatalf("after the token expired, Fetch: %v", err)
	}
	if n := count(emu, "PUT", tokenPath); n != 2 {
		t.Errorf("token PUTs = %d, want 2 (one renewal after the 401)", n)
	}

	emu.SetTokenPolicy(emulator.TokenNone)
	c = newClient(t, metadata.Config{Endpoint: url})
	if _, err := c.Fetch(t.Context()); err != nil {
		t.Fatalf("tokenless service: %v", err)
	}
	emu.SetTokenPolicy(emulator.TokenEnforced)
	if _, err := c.Fetch(t.Context()); err != nil {
		t.Fatalf("after hardened mode was turned on: %v", err)
	}

	off := newClient(t, metadata.Config{Endpoint: url, Token: metadata.TokenOff})
	if _, err := off.Fetch(t.Context()); err == nil || !strings.Contains(err.Error(), url+allPath+": 403 Forbidden: the instance may enforce security-hardening mode") {
		t.Errorf("token off against hardened mode: %v", err)
	}
	emu.SetTokenPolicy(emulator.TokenDisabled)
	if _, err := newClient(t, metadata.Config{Endpoint: url}).Fetch(t.Context()); err == nil || !strings.Contains(err.Error(), "metadata access is disabled") {
		t.Errorf("metadata access disabled: %v", err)
	}
}

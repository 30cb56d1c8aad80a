package metadata_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

func TestFetchFailures(t *testing.T) {
	var many string
	for i := range 101 {
		many += fmt.Sprintf("k%d/\n", i)
	}
	tests := []struct {
		name    string
		path    string
		fault   emulator.Fault
		timeout time.Duration
		want    string // substring of the error; URL stands for the emulator's
	}{
		{name: "500 on listing", path: keysPath, fault: emulator.Fault{Status: 500},
			want: "fetch URL/latest/meta-data/public-keys/: 500 Internal Server Error"},
		{name: "503 on instance-id", path: idPath, fault: emulator.Fault{Status: 503},
			want: "fetch URL/latest/meta-data/instance-id: 503 Service Unavailable"},
		{name: "404 on instance-id", path: idPath, fault: emulator.Fault{Status: 404},
			want: "fetch URL/latest/meta-data/instance-id: 404 Not Found"},
		{name: "404 on a listed key", path: key0Path, fault: emulator.Fault{Status: 404},
			want: `fetch URL/latest/meta-data/public-keys/0/openssh-key: 404 Not Found although public-keys/ lists "0"`},
		{name: "listing dot-dot", path: keysPath, fault: emulator.Fault{Body: []byte("../\n")},
			want: `fetch URL/latest/meta-data/public-keys/: malformed listing entry "../"`},
		{name: "listing escaped dot-dot", path: keysPath, fault: emulator.Fault{Body: []byte("0/\n%2e%2e/\n")},
			want: `malformed listing entry "%2e%2e/"`},
		{name: "listing absolute url", path: keysPath, fault: emulator.Fault{Body: []byte("http://evil/\n")},
			want: `malformed listing entry "http://evil/"`},
		{name: "listing space", path: keysPath, fault: emulator.Fault{Body: []byte("a b/\n")},
			want: `malformed listing entry "a b/"`},
		{name: "listing without slash", path: keysPath, fault: emulator.Fault{Body: []byte("0\n")},
			want: `malformed listing entry "0"`},
		{name: "listing nested", path: keysPath, fault: emulator.Fault{Body: []byte("0/openssh-key/\n")},
			want: `malformed listing entry "0/openssh-key/"`},
		{name: "listing too long", path: keysPath, fault: emulator.Fault{Body: []byte(many)},
			want: "listing has more than 100 entries"},
		{name: "listing empty", path: keysPath, fault: emulator.Fault{Body: []byte("\n")},
			want: "fetch URL/latest/meta-data/public-keys/: listing is empty"},
		{name: "key over 64 KiB", path: key0Path, fault: emulator.Fault{BodySize: 64<<10 + 1},
			want: "fetch URL/latest/meta-data/public-keys/0/openssh-key: body of 65537 bytes exceeds the limit of 65536"},
		{name: "instance-id too long", path: idPath, fault: emulator.Fault{BodySize: 257},
			want: "exceeds the limit of 256"},
		{name: "instance-id empty", path: idPath, fault: emulator.Fault{Body: []byte(" \n")},
			want: "fetch URL/latest/meta-data/instance-id: empty instance id"},
		{name: "instance-id control char", path: idPath, fault: emulator.Fault{Body: []byte("i-\x1b[2J")},
			want: "printable ascii"},
		{name: "redirect on listing", path: keysPath, fault: emulator.Fault{RedirectTo: "/latest/meta-data/public-keys/0/"},
			want: `fetch URL/latest/meta-data/public-keys/: 302 Found: refusing to follow a redirect to "/latest/meta-data/public-keys/0/"`},
		{name: "301 on key", path: key0Path, fault: emulator.Fault{Status: 301, RedirectTo: "http://192.0.2.1/"},
			want: "301 Moved Permanently: refusing to follow a redirect"},
		{name: "slow drip", path: key0Path, fault: emulator.Fault{Drip: 20 * time.Millisecond}, timeout: 150 * time.Millisecond,
			want: "fetch URL/latest/meta-data/public-keys/0/openssh-key: no complete answer within 150ms"},
		{name: "slow answer", path: keysPath, fault: emulator.Fault{Delay: time.Minute}, timeout: 100 * time.Millisecond,
			want: "fetch URL/latest/meta-data/public-keys/: no complete answer within 100ms"},
		{name: "dropped connection", path: key0Path, fault: emulator.Fault{Drop: true},
			want: "fetch URL/latest/meta-data/public-keys/0/openssh-key: read body: "}, // reset or EOF
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, url := newEmulator(t)
			emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
			emu.SetFault(tt.path, tt.fault)
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
		})
	}
}

// counter is a server that must never be reached.
func counter(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("0/\n"))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestRedirectTargetNeverContacted(t *testing.T) {
	target, hits := counter(t)
	for _, path := range []string{tokenPath, idPath, keysPath, key0Path, allPath} {
		t.Run(path, func(t *testing.T) {
			emu, url := newEmulator(t)
			emu.SetAllDocument(path == allPath)
			emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
			emu.SetFault(path, emulator.Fault{RedirectTo: target.URL + path})
			c := newClient(t, metadata.Config{Endpoint: url})

			_, err := c.Fetch(t.Context())
			if err == nil || !strings.Contains(err.Error(), "refusing to follow a redirect") {
				t.Errorf("Fetch error = %v, want a refused redirect", err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("redirect target got %d requests, want 0", n)
	}
}

func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := newClient(t, metadata.Config{Endpoint: url})

	_, err := c.Fetch(t.Context())
	want := "request token from " + url + tokenPath + ": dial tcp "
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Fetch error = %v, want %q ... connection refused", err, want)
	}

	c = newClient(t, metadata.Config{Endpoint: url, Token: metadata.TokenOff})
	_, err = c.Fetch(t.Context())
	want = "fetch " + url + allPath + ": dial tcp "
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Fetch (token off) error = %v, want %q ... connection refused", err, want)
	}
}

package metadata_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	keyA = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa a@example"
	keyB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb b@example"

	tokenPath = "/latest/api/token"
	idPath    = "/latest/meta-data/instance-id"
	keysPath  = "/latest/meta-data/public-keys/"
	key0Path  = "/latest/meta-data/public-keys/0/openssh-key"
	allPath   = "/latest/meta-data/all"
)

// newEmulator starts an emulator on loopback and returns it with its URL.
func newEmulator(t *testing.T) (*emulator.Server, string) {
	t.Helper()
	emu := emulator.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, srv.URL
}

// newClient returns a client whose idle connections close with the test.
func newClient(t *testing.T, cfg metadata.Config) *metadata.Client {
	t.Helper()
	c := metadata.New(cfg)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// count returns how many logged requests have method and path.
func count(emu *emulator.Server, method, path string) int {
	n := 0
	for _, r := range emu.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

func TestFetchOneKeyListedTwice(t *testing.T) {
	emu, url := newEmulator(t)
	emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
	c := newClient(t, metadata.Config{Endpoint: url})

	snap, err := c.Fetch(t.Context())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if snap.InstanceID != emulator.DefaultInstanceID {
		t.Errorf("InstanceID = %q, want %q", snap.InstanceID, emulator.DefaultInstanceID)
	}
	if len(snap.Keys) != 1 || snap.Keys[0].ID != "skp-x" || string(snap.Keys[0].Body) != keyA {
		t.Errorf("Keys = %q, want one entry skp-x (the key-pair id, not the index) with keyA", snap.Keys)
	}
	if n := count(emu, "GET", "/latest/meta-data/public-keys/skp-x/openssh-key"); n != 1 {
		t.Errorf("GETs of skp-x/openssh-key = %d, want 1 (listed, fetched, then de-duplicated)", n)
	}
}

func TestFetchTwoKeys(t *testing.T) {
	emu, url := newEmulator(t)
	emu.SetKeys(emulator.Key{ID: "skp-a", Body: keyA}, emulator.Key{ID: "skp-b", Body: keyB + "\n"})
	c := newClient(t, metadata.Config{Endpoint: url})

	snap, err := c.Fetch(t.Context())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	var got []string
	for _, k := range snap.Keys {
		got = append(got, k.ID+"="+strings.TrimSpace(string(k.Body)))
	}
	want := []string{"skp-a=" + keyA, "skp-b=" + keyB}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Keys = %q, want %q", got, want)
	}
}

func TestFetchNoKeyBound(t *testing.T) {
	emu, url := newEmulator(t)
	emu.SetInstanceID("i-nokey")
	c := newClient(t, metadata.Config{Endpoint: url})

	snap, err := c.Fetch(t.Context())
	if !errors.Is(err, metadata.ErrNoKeyBound) {
		t.Fatalf("Fetch error = %v, want ErrNoKeyBound", err)
	}
	if snap.InstanceID != "i-nokey" || len(snap.Keys) != 0 {
		t.Errorf("Fetch = %+v, want instance i-nokey and no keys", snap)
	}
	if !strings.Contains(err.Error(), url+keysPath) {
		t.Errorf("error %q does not name %s", err, url+keysPath)
	}
}

func TestFetchCanceled(t *testing.T) {
	emu, url := newEmulator(t)
	emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
	c := newClient(t, metadata.Config{Endpoint: url})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Fetch(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch(canceled) error = %v, want context.Canceled", err)
	}
}

func TestConcurrentFetchSharesOneToken(t *testing.T) {
	emu, url := newEmulator(t)
	emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
	emu.SetTokenPolicy(emulator.TokenEnforced)
	c := newClient(t, metadata.Config{Endpoint: url})

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := c.Fetch(t.Context())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Fetch: %v", err)
		}
	}
	if n := count(emu, "PUT", tokenPath); n != 1 {
		t.Errorf("token PUTs = %d, want 1", n)
	}
}

func TestNeverForwarded(t *testing.T) {
	emu, url := newEmulator(t)
	emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
	c := newClient(t, metadata.Config{Endpoint: url})
	if _, err := c.Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	for _, r := range emu.Requests() {
		if r.Forwarded {
			t.Errorf("%s %s carried X-Forwarded-For", r.Method, r.Path)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  metadata.Config
		want string // substring of the error; "" for none
	}{
		{name: "zero", cfg: metadata.Config{}},
		{name: "https", cfg: metadata.Config{Endpoint: "https://example.test/"}},
		{name: "ftp", cfg: metadata.Config{Endpoint: "ftp://100.100.100.200"}, want: "scheme"},
		{name: "path", cfg: metadata.Config{Endpoint: "http://100.100.100.200/latest"}, want: "only the scheme, host and port"},
		{name: "query", cfg: metadata.Config{Endpoint: "http://100.100.100.200?a=b"}, want: "only the scheme, host and port"},
		{name: "port out of range", cfg: metadata.Config{Endpoint: "http://127.0.0.1:99999"}, want: "not in 1..65535"},
		{name: "port", cfg: metadata.Config{Endpoint: "http://127.0.0.1:8080"}},
		{name: "ipv6", cfg: metadata.Config{Endpoint: "http://[fd00:100::100:200]"}},
		{name: "no host", cfg: metadata.Config{Endpoint: "http://"}, want: "no host"},
		{name: "mode", cfg: metadata.Config{Token: "sometimes"}, want: "token mode"},
		{name: "ttl too long", cfg: metadata.Config{TokenTTL: 6*time.Hour + time.Second}, want: "token ttl"},
		{name: "ttl fraction", cfg: metadata.Config{TokenTTL: 1500 * time.Millisecond}, want: "token ttl"},
		{name: "ttl max", cfg: metadata.Config{TokenTTL: 21600 * time.Second}},
		{name: "timeout", cfg: metadata.Config{RequestTimeout: -time.Second}, want: "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate(%+v) = %v, want nil", tt.cfg, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate(%+v) = %v, want error containing %q", tt.cfg, err, tt.want)
			}
			_, ferr := metadata.New(tt.cfg).Fetch(t.Context())
			if ferr == nil || ferr.Error() != err.Error() {
				t.Errorf("Fetch with %+v = %v, want %v", tt.cfg, ferr, err)
			}
		})
	}
}

// The instance id cannot change under a running agent: a client reads it
// once, and a later Fetch costs one request fewer.
func TestFetchReadsInstanceIDOnce(t *testing.T) {
	emu, url := newEmulator(t)
	emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
	c := newClient(t, metadata.Config{Endpoint: url})
	for i := 0; i < 3; i++ {
		snap, err := c.Fetch(t.Context())
		if err != nil || snap.InstanceID != emulator.DefaultInstanceID {
			t.Fatalf("Fetch %d = %q, %v", i, snap.InstanceID, err)
		}
	}
	if n := count(emu, "GET", idPath); n != 1 {
		t.Errorf("GETs of instance-id over 3 fetches = %d, want 1", n)
	}
}

package metadata

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzParseListing checks the public-keys/ listing parser on any body: it
// never panics, and every id it accepts is safe to join into a URL path
// (checked here without its regexp: no separator, no escape, no dot-only
// segment, bounded length), unique, and at most maxListEntries of them.
func FuzzParseListing(f *testing.F) {
	for _, s := range []string{"0/\nskp-bp1x/\n", "0/", "0/\r\n1/\r\n", "\n\n", "../\n", "%2e%2e/\n",
		"http://evil/\n", "/etc/\n", "0\x00/\n", "a..b/\n", "0/\n0/\n", strings.Repeat("1/\n", 101), "\xff/\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ids, err := parseListing(body)
		if err != nil {
			if ids != nil {
				t.Fatalf("parseListing(%q) = %q with error %v", body, ids, err)
			}
			return
		}
		if len(ids) == 0 || len(ids) > maxListEntries {
			t.Fatalf("parseListing(%q) returned %d ids", body, len(ids))
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("parseListing(%q): %q twice", body, id)
			}
			seen[id] = true
			if len(id) == 0 || len(id) > 128 || strings.Trim(id, ".") == "" {
				t.Fatalf("parseListing(%q): unsafe id %q", body, id)
			}
			for _, r := range id {
				ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
				if !ok {
					t.Fatalf("parseListing(%q): id %q has %q", body, id, r)
				}
			}
			u := publicKeysPath + id + "/openssh-key"
			if path.Clean(u) != u {
				t.Fatalf("parseListing(%q): id %q makes the path %q move", body, id, u)
			}
			if !bytes.Contains(body, []byte(id+"/")) {
				t.Fatalf("parseListing(%q): id %q is not in the body", body, id)
			}
		}
	})
}

// fuzzServer serves fuzzed bodies as the metadata service would, one
// Fuzz call at a time, and remembers the paths it was asked for.
type fuzzServer struct {
	mu       sync.Mutex
	id, list []byte
	key      []byte
	paths    []string
}

func (s *fuzzServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths = append(s.paths, r.URL.Path)
	switch p := r.URL.Path; {
	case p == tokenPath:
		http.NotFound(w, r)
	case p == instanceIDPath:
		w.Write(s.id)
	case p == publicKeysPath:
		w.Write(s.list)
	case strings.HasPrefix(p, publicKeysPath) && strings.HasSuffix(p, "/openssh-key"):
		w.Write(s.key)
	default:
		http.NotFound(w, r)
	}
}

// FuzzFetch serves fuzzed instance-id, listing and key bodies and checks
// Fetch: no panic; on success a printable instance id, at most
// maxListEntries keys, bodies within maxBody and as served; and never a
// request outside /latest/ or with a dot-dot segment, whatever the listing.
func FuzzFetch(f *testing.F) {
	f.Add([]byte("i-abc"), []byte("0/\nskp-1/\n"), []byte("ssh-ed25519 AAAA k\n"))
	f.Add([]byte("i-abc"), []byte("../../x/\n"), []byte(""))
	f.Add([]byte(" \x00"), []byte("0/"), []byte("\xff\xfe"))
	f.Add([]byte("i-abc"), []byte("a..b/\n0/\n"), []byte("k1\nk2\n"))
	srv := &fuzzServer{}
	hs := httptest.NewServer(srv)
	f.Cleanup(hs.Close)
	f.Fuzz(func(t *testing.T, id, list, key []byte) {
		// A client per input: a client reads the instance id only once.
		c := New(Config{Endpoint: hs.URL, Token: TokenAuto, RequestTimeout: 2 * time.Second})
		defer c.CloseIdleConnections()
		srv.mu.Lock()
		srv.id, srv.list, srv.key, srv.paths = id, list, key, nil
		srv.mu.Unlock()
		snap, err := c.Fetch(context.Background())
		srv.mu.Lock()
		paths := srv.paths
		srv.mu.Unlock()
		for _, p := range paths {
			if !strings.HasPrefix(p, "/latest/") || strings.Contains(p, "..") && path.Clean(p) != p {
				t.Fatalf("Fetch with listing %q asked for %q", list, p)
			}
		}
		if err != nil {
			return
		}
		if !printable(snap.InstanceID) || snap.InstanceID != strings.TrimSpace(string(id)) {
			t.Fatalf("Fetch: instance id %q from %q", snap.InstanceID, id)
		}
		if len(snap.Keys) == 0 || len(snap.Keys) > maxListEntries {
			t.Fatalf("Fetch: %d keys", len(snap.Keys))
		}
		for _, k := range snap.Keys {
			if !bytes.Equal(k.Body, key) || len(k.Body) > maxBody {
				t.Fatalf("Fetch: key %s body %q, served %q", k.ID, k.Body, key)
			}
		}
	})
}

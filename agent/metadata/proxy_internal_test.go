package metadata

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestProxyFromEnvironmentIgnored sets every proxy variable and points the
// client at a name that is not loopback (net/http never proxies loopback, so
// a loopback endpoint would prove nothing). The transport's dialer is
// replaced by one that records the address and fails, so no packet leaves
// the machine: a client honouring the environment would dial the proxy.
func TestProxyFromEnvironmentIgnored(t *testing.T) {
	const proxy = "127.0.0.1:3128"
	for _, v := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		t.Setenv(v, "http://"+proxy)
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	c := New(Config{Endpoint: "http://metadata.invalid", RequestTimeout: time.Second})
	var mu sync.Mutex
	var dialed []string
	errNoNetwork := errors.New("test dialer: no network")
	c.http.Transport.(*http.Transport).DialContext = func(_ context.Context, _, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		return nil, errNoNetwork
	}

	if _, err := c.Fetch(t.Context()); !errors.Is(err, errNoNetwork) {
		t.Fatalf("Fetch error = %v, want the test dialer's", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialed) == 0 {
		t.Fatal("Fetch dialed nothing")
	}
	for _, addr := range dialed {
		if addr != "metadata.invalid:80" {
			t.Errorf("Fetch dialed %s, want only metadata.invalid:80 (never the proxy %s)", addr, proxy)
		}
	}
}

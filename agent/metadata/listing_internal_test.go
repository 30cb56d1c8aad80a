package metadata

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseListing(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []string
		wantErr string
	}{
		{name: "index and id", body: "0/\nskp-bp1x/\n", want: []string{"0", "skp-bp1x"}},
		{name: "no final newline", body: "0/", want: []string{"0"}},
		{name: "crlf", body: "0/\r\nskp-1/\r\n", want: []string{"0", "skp-1"}},
		{name: "blank lines", body: "\n0/\n\n1/\n\n", want: []string{"0", "1"}},
		{name: "duplicates", body: "0/\n0/\nskp-1/\n", want: []string{"0", "skp-1"}},
		{name: "dots inside", body: "a..b/\n", want: []string{"a..b"}},
		{name: "128 chars", body: strings.Repeat("a", 128) + "/\n", want: []string{strings.Repeat("a", 128)}},
		{name: "129 chars", body: strings.Repeat("a", 129) + "/\n", wantErr: "malformed"},
		{name: "dot-dot", body: "../\n", wantErr: "malformed"},
		{name: "dot", body: "./\n", wantErr: "malformed"},
		{name: "percent", body: "%2e%2e/\n", wantErr: "malformed"},
		{name: "absolute", body: "http://evil/\n", wantErr: "malformed"},
		{name: "slash first", body: "/etc/\n", wantErr: "malformed"},
		{name: "query", body: "0?x/\n", wantErr: "malformed"},
		{name: "nul", body: "0\x00/\n", wantErr: "malformed"},
		{name: "space", body: "a b/\n", wantErr: "malformed"},
		{name: "empty", body: "", wantErr: "listing is empty"},
		{name: "100 entries", body: strings.Repeat("0/\n", 100), want: []string{"0"}},
		{name: "101 entries", body: strings.Repeat("0/\n", 101), wantErr: "more than 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseListing([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("parseListing(%q) = %q, %v; want error containing %q", tt.body, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("parseListing(%q) = %q, %v; want %q", tt.body, got, err, tt.want)
			}
		})
	}
}

// TestTransportHasNoProxy backs up TestProxyFromEnvironmentIgnored, which
// net/http's once-per-process reading of the environment could defeat.
func TestTransportHasNoProxy(t *testing.T) {
	c := New(Config{})
	tr, ok := c.http.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport is %T, want *http.Transport", c.http.Transport)
	}
	if tr == http.DefaultTransport || tr.Proxy != nil {
		t.Errorf("transport is the default or has a proxy function")
	}
	if c.http.CheckRedirect == nil {
		t.Errorf("client follows redirects")
	}
}

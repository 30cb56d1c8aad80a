package reliability

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

const (
	listingPath = "/latest/meta-data/public-keys/"
	key0Path    = listingPath + "0/openssh-key"
	tokenPath   = "/latest/api/token"
)

// metadataAttack is one way the metadata service (or whoever answers in its
// place) misbehaves. good is the key bound before; other is the URL of a
// second host that must never be asked.
type metadataAttack struct {
	name   string
	setup  func(t *testing.T, srv *emulator.Server, good key, other string)
	status int // the exit status the sync must end with
}

func faultOn(path string, f emulator.Fault) func(*testing.T, *emulator.Server, key, string) {
	return func(_ *testing.T, srv *emulator.Server, _ key, _ string) { srv.SetFault(path, f) }
}

func listing(body string) func(*testing.T, *emulator.Server, key, string) {
	return faultOn(listingPath, emulator.Fault{Body: []byte(body)})
}

// keyBody binds one key whose body is made from a fresh key line.
func keyBody(f func(line string) string) func(*testing.T, *emulator.Server, key, string) {
	return func(t *testing.T, srv *emulator.Server, _ key, _ string) {
		srv.SetKeys(emulator.Key{ID: "skp-hostile", Body: f(newKey(t, "hostile").line)})
	}
}

var metadataAttacks = []metadataAttack{
	{"key body dripped 1 byte per 100 ms", faultOn(key0Path, emulator.Fault{Drip: 100 * time.Millisecond}), 1},
	{"listing delayed 30 s", faultOn(listingPath, emulator.Fault{Delay: 30 * time.Second}), 1},
	{"10 MiB key body", faultOn(key0Path, emulator.Fault{BodySize: 10 << 20}), 1},
	{"10 MiB listing", faultOn(listingPath, emulator.Fault{BodySize: 10 << 20}), 1},
	{"10,000 keys bound", func(t *testing.T, srv *emulator.Server, _ key, _ string) {
		var ks []emulator.Key
		for i, k := range newKeys(t, 10000) {
			ks = append(ks, emulator.Key{ID: fmt.Sprintf("skp-%d", i), Body: k.line})
		}
		srv.SetKeys(ks...)
	}, 1},
	{"listing of 10,000 entries", func(t *testing.T, srv *emulator.Server, _ key, _ string) {
		var b strings.Builder
		for i := range 10000 {
			fmt.Fprintf(&b, "%d/\n", i)
		}
		srv.SetFault(listingPath, emulator.Fault{Body: []byte(b.String())})
	}, 1},
	{"listing entry ../../../../etc/passwd/", listing("0/\n../../../../etc/passwd/\n"), 1},
	{"listing entry %2e%2e/", listing("0/\n%2e%2e/\n"), 1},
	{"listing entry ..%2finstance-id/", listing("..%2finstance-id/\n"), 1},
	{"listing entry /etc/", listing("/etc/\n"), 1},
	{"listing entry with an absolute URL", func(_ *testing.T, srv *emulator.Server, _ key, other string) {
		srv.SetFault(listingPath, emulator.Fault{Body: []byte("0/\n" + other + "/x/\n")})
	}, 1},
	{"empty 200 listing", listing(""), 1},
	{"key with command= option", keyBody(func(l string) string { return `command="/bin/sh -c 'id'",no-pty ` + l }), 1},
	{"key with option beside a good key", func(t *testing.T, srv *emulator.Server, good key, _ string) {
		srv.SetKeys(emulator.Key{ID: "skp-good", Body: good.line},
			emulator.Key{ID: "skp-opt", Body: `from="*" ` + newKey(t, "opt").line})
	}, 3},
	{"CR inside a key", keyBody(func(l string) string { return strings.Replace(l, " hostile", " host\rile", 1) }), 1},
	{"NUL inside a key", keyBody(func(l string) string { return l + "\x00tail" }), 1},
	{"two keys in one body", func(t *testing.T, srv *emulator.Server, _ key, _ string) {
		srv.SetKeys(emulator.Key{ID: "skp-two", Body: newKey(t, "a").line + "\n" + newKey(t, "b").line + "\n"})
	}, 1},
	{"invalid UTF-8 comment", keyBody(func(l string) string { return l + " \xff\xfe" }), 1},
	{"redirect to another host", func(_ *testing.T, srv *emulator.Server, _ key, other string) {
		srv.SetFault(listingPath, emulator.Fault{RedirectTo: other + listingPath})
	}, 1},
	{"1 MiB token", faultOn(tokenPath, emulator.Fault{BodySize: 1 << 20}), 1},
	{"endless 401 on the listing", faultOn(listingPath, emulator.Fault{Status: 401}), 1},
	{"endless 401 on every key", faultOn(key0Path, emulator.Fault{Status: 401}), 1},
	{"connection reset mid-body", faultOn(key0Path, emulator.Fault{Drop: true}), 1},
	{"connection reset mid-listing", faultOn(listingPath, emulator.Fault{Drop: true}), 1},
	{"500 on the listing", faultOn(listingPath, emulator.Fault{Status: 500}), 1},
	{"token endpoint disabled (403)", faultOn(tokenPath, emulator.Fault{Status: 403}), 1},
}

// TestHostileMetadata runs a sync against each hostile answer and checks it
// is refused or bounded: the right exit status and an error line, alice's
// file byte for byte as it was (or, for a partial answer, the good key
// installed and her own lines kept), no request for a path outside
// public-keys/<id>/ and none to another host, and bounded memory (max RSS
// of the process, asserted loosely) and time (reported only).
func TestHostileMetadata(t *testing.T) {
	needRoot(t)
	rec := newRecord(t, "Hostile metadata answers")
	var otherHits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		w.Write([]byte("ssh-ed25519 AAAA stolen\n"))
	}))
	defer other.Close()

	tr := newTree(t, layoutDropIn)
	tr.config("disable")
	srv, url := startIMDS(t)
	own := newKey(t, "alice-own")
	tr.mkdir("home/alice/.ssh", 0o700)
	tr.write("home/alice/.ssh/authorized_keys", "# alice's own lines\n"+own.line+"\n", 0o600)
	tr.chown("home/alice/.ssh", aliceUID)
	tr.chown("home/alice/.ssh/authorized_keys", aliceUID)
	args := append(tr.syncArgs(url, "alice"), "--json")
	good := newKey(t, "good")
	repeats := scale(5, 1)
	var slowest time.Duration
	var slowestName string
	var maxRSS int64
	var maxRSSName string
	for _, a := range metadataAttacks {
		srv.ClearFaults()
		bind(srv, good)
		if o := runAgent(t, time.Minute, args...); o.status != 0 {
			t.Fatalf("%s: sync before the attack: status %d\n%s", a.name, o.status, o.stderr)
		}
		before := tr.read("home/alice/.ssh/authorized_keys")
		a.setup(t, srv, good, other.URL)
		seen := len(srv.Requests())
		for range repeats {
			rec.run()
			rec.fault()
			o := runAgent(t, time.Minute, tr.syncArgs(url, "alice")...)
			if o.elapsed > slowest {
				slowest, slowestName = o.elapsed, a.name
			}
			if o.maxRSS > maxRSS {
				maxRSS, maxRSSName = o.maxRSS, a.name
			}
			if o.status != a.status || !o.errorLine() {
				rec.fail("%s: status %d, error line %v; want status %d with an error line\n%s%s", a.name, o.status, o.errorLine(), a.status, o.stdout, o.stderr)
			}
			if o.maxRSS > 100<<10 {
				rec.fail("%s: max RSS %d KiB, over 100 MiB", a.name, o.maxRSS)
			}
			line := firstLine(o.stderr, "ecs-keyagent: error: ")
			t.Logf("%-40s status %d in %6v, max RSS %5.1f MiB: %s", a.name, o.status, o.elapsed.Round(time.Millisecond), float64(o.maxRSS)/1024, line)
		}
		after := tr.read("home/alice/.ssh/authorized_keys")
		switch {
		case a.status == 3:
			if !strings.Contains(after, good.line) || !strings.Contains(after, "# alice's own lines\n"+own.line+"\n") || strings.Contains(after, `from="*"`) {
				rec.lost("%s: authorized_keys after a partial answer:\n%s", a.name, after)
			}
		case after != before:
			rec.lost("%s: authorized_keys changed:\n--- before\n%s--- after\n%s", a.name, before, after)
		}
		for _, r := range srv.Requests()[min(seen, len(srv.Requests())):] {
			if strings.Contains(r.Path, "..") || !strings.HasPrefix(r.Path, "/latest/") {
				rec.outside(0, "%s: the agent asked for %s %s", a.name, r.Method, r.Path)
			}
		}
	}
	if n := otherHits.Load(); n > 0 {
		rec.outside(0, "the agent sent %d requests to another host", n)
	}
	rec.figure("attacks", fmt.Sprint(len(metadataAttacks)))
	rec.figure("slowest refusal", fmt.Sprintf("%v (%s; request_timeout 2s)", slowest.Round(time.Millisecond), slowestName))
	rec.figure("largest max RSS of a sync", fmt.Sprintf("%.1f MiB (%s)", float64(maxRSS)/1024, maxRSSName))
	rec.figure("requests to another host", fmt.Sprint(otherHits.Load()))
}

// firstLine returns the first line of s starting with prefix.
func firstLine(s, prefix string) string {
	for l := range strings.Lines(s) {
		if strings.HasPrefix(l, prefix) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

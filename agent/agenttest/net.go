package agenttest

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// Deadline bounds every wait of a test: tests assert outcomes, never how
// fast they came, and a generous bound keeps a loaded CI machine green.
const Deadline = 20 * time.Second

// FreePort is a TCP port on 127.0.0.1 that nothing listened on a moment
// ago, for a server the test starts in another process.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Notify is a real unixgram socket standing in for systemd's
// NOTIFY_SOCKET, and the datagrams sent to it, in order.
type Notify struct {
	Path string        // the socket, for NOTIFY_SOCKET
	C    <-chan string // every datagram; dropped when nobody reads 4096 behind
	c    chan string
}

// ListenNotify opens a Notify, closed when t ends. The caller points the
// code under test at n.Path, with t.Setenv("NOTIFY_SOCKET", n.Path) or in
// a child's environment.
func ListenNotify(t testing.TB) *Notify {
	t.Helper()
	c := make(chan string, 4096)
	n := &Notify{Path: filepath.Join(t.TempDir(), "notify"), C: c, c: c}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.Path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			select {
			case n.c <- string(buf[:k]):
			default: // a test that stopped reading does not block the socket
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-stopped })
	return n
}

// Wait waits, at most Deadline, for a datagram for which match is true and
// returns it with every datagram before it; what names it in the failure.
func (n *Notify) Wait(t testing.TB, what string, match func(string) bool) (string, []string) {
	t.Helper()
	var before []string
	deadline := time.After(Deadline)
	for {
		select {
		case got := <-n.C:
			if match(got) {
				return got, before
			}
			before = append(before, got)
		case <-deadline:
			t.Fatalf("no %s notification; got %q", what, before)
		}
	}
}

// WaitFor waits for the datagram want, exactly.
func (n *Notify) WaitFor(t testing.TB, want string) {
	t.Helper()
	n.Wait(t, want, func(got string) bool { return got == want })
}

// Next waits for the next datagram, whatever it is.
func (n *Notify) Next(t testing.TB) string {
	t.Helper()
	got, _ := n.Wait(t, "", func(string) bool { return true })
	return got
}

// Drain returns what arrived so far without waiting.
func (n *Notify) Drain() []string {
	var got []string
	for {
		select {
		case s := <-n.C:
			got = append(got, s)
		default:
			return got
		}
	}
}

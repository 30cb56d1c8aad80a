package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/crypto/ssh"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ecs-keyagent": func() { os.Exit(mainStatus()) },
	})
}

// TestScript runs the command-line scripts in testdata/script against the
// metadata emulator on loopback and a scratch filesystem root ($ROOT). The
// scripts run as whoever runs the test: their users are that user
// ($UID_TEST, $GID_TEST; agenttest.UserID), so only a step that needs a
// file of another owner asks for [root], and CI=true turns a missing root
// into a failure.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			root := filepath.Join(env.WorkDir, "root")
			env.Setenv("ROOT", root)
			env.Setenv("UID_TEST", strconv.Itoa(agenttest.UserID()))
			env.Setenv("GID_TEST", strconv.Itoa(agenttest.GroupID()))
			env.Values[imdsKey{}] = &imdsHolder{}
			env.Values[flockKey{}] = &flockHolder{}
			return os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		},
		Condition: func(cond string) (bool, error) {
			if cond != "root" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			return agenttest.HaveRoot()
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"imds":     cmdIMDS,
			"genkey":   cmdGenkey,
			"mkuser":   cmdMkuser,
			"layout":   cmdLayout,
			"stat":     cmdStat,
			"samestat": cmdSameStat,
			"exitcode": cmdExitCode,
			"flock":    cmdFlock,
		},
	})
}

// imdsKey finds a script's emulator among its testscript values.
type imdsKey struct{}

type imdsHolder struct{ srv *emulator.Server }

// cmdIMDS drives the metadata emulator:
//
//	imds start                  start it; $IMDS is its URL
//	imds bind ID FILE [ID FILE] bind keys read from files
//	imds detach                 no key bound
//	imds policy POLICY          token policy: none, optional, enforced, disabled
//	imds fault PATH STATUS      answer STATUS on PATH until cleared
//	imds redirect PATH URL      answer a redirect on PATH
//	imds big PATH SIZE          pad PATH's body to SIZE bytes
//	imds delay PATH DURATION    answer PATH only after DURATION
//	imds clear                  clear faults
func cmdIMDS(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! imds")
	}
	if len(args) == 0 {
		ts.Fatalf("usage: imds start|bind|detach|policy|fault|redirect|big|clear")
	}
	if args[0] == "start" {
		srv := emulator.New()
		hs := httptest.NewServer(srv)
		ts.Defer(hs.Close)
		ts.Value(imdsKey{}).(*imdsHolder).srv = srv
		ts.Setenv("IMDS", hs.URL)
		return
	}
	srv := ts.Value(imdsKey{}).(*imdsHolder).srv
	if srv == nil {
		ts.Fatalf("imds %s: run 'imds start' first", args[0])
	}
	switch args[0] {
	case "bind":
		var ks []emulator.Key
		for i := 1; i+1 < len(args); i += 2 {
			ks = append(ks, emulator.Key{ID: args[i], Body: ts.ReadFile(args[i+1])})
		}
		srv.SetKeys(ks...)
	case "detach":
		srv.SetKeys()
	case "policy":
		srv.SetTokenPolicy(emulator.TokenPolicy(args[1]))
	case "fault":
		status, err := strconv.Atoi(args[2])
		ts.Check(err)
		srv.SetFault(args[1], emulator.Fault{Status: status})
	case "redirect":
		srv.SetFault(args[1], emulator.Fault{RedirectTo: args[2]})
	case "delay":
		d, err := time.ParseDuration(args[2])
		ts.Check(err)
		srv.SetFault(args[1], emulator.Fault{Delay: d})
	case "big":
		size, err := strconv.Atoi(args[2])
		ts.Check(err)
		srv.SetFault(args[1], emulator.Fault{BodySize: size})
	case "clear":
		srv.ClearFaults()
	default:
		ts.Fatalf("imds: unknown subcommand %q", args[0])
	}
}

// cmdGenkey writes a fresh public key to FILE: genkey TYPE FILE [COMMENT],
// TYPE one of ed25519, ecdsa, rsa1024, rsa2048.
func cmdGenkey(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: genkey TYPE FILE [COMMENT]")
	}
	var pub any
	switch args[0] {
	case "ed25519":
		p, _, err := ed25519.GenerateKey(rand.Reader)
		ts.Check(err)
		pub = p
	case "ecdsa":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ts.Check(err)
		pub = &k.PublicKey
	case "rsa1024", "rsa2048":
		bits, _ := strconv.Atoi(strings.TrimPrefix(args[0], "rsa"))
		k, err := rsa.GenerateKey(rand.Reader, bits)
		ts.Check(err)
		pub = &k.PublicKey
	default:
		ts.Fatalf("genkey: unknown type %q", args[0])
	}
	sp, err := ssh.NewPublicKey(pub)
	ts.Check(err)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
	if len(args) > 2 {
		line += " " + args[2]
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(line+"\n"), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs(args[1]+".fp"), []byte(ssh.FingerprintSHA256(sp)+"\n"), 0o644))
}

// cmdMkuser adds a user to $ROOT/etc/passwd with a home under $ROOT, mode
// 0755 and the user's: mkuser NAME [UID [HOME]]. Without UID the user is
// the test user ($UID_TEST:$GID_TEST); any other UID needs root.
func cmdMkuser(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 3 {
		ts.Fatalf("usage: mkuser NAME [UID [HOME]]")
	}
	a := agenttest.Account{Name: args[0], UID: agenttest.UserID(), GID: agenttest.GroupID(), Home: "/home/" + args[0]}
	if a.Name == "root" {
		a.Home = "/root"
	}
	if len(args) > 1 {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		if n != a.UID && os.Geteuid() != 0 {
			ts.Fatalf("mkuser %s %d: a home of another owner needs root ([root])", a.Name, n)
		}
		a.UID, a.GID = n, n
	}
	if len(args) > 2 {
		a.Home = args[2]
	}
	ts.Check(agenttest.AddAccount(ts.Getenv("ROOT"), a))
}

// cmdLayout writes an agenttest sshd layout into $ROOT: layout NAME, NAME
// one of debian12, ubuntu-cloud, rhel9, no-include.
func cmdLayout(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: layout NAME")
	}
	ts.Check(agenttest.WriteLayout(ts.Getenv("ROOT"), args[0]))
}

// cmdStat checks a file's mode and owner: stat FILE MODE [UID].
func cmdStat(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: stat FILE MODE [UID]")
	}
	fi, err := os.Lstat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := fmt.Sprintf("%#o", fi.Mode().Perm())
	ok := got == args[1]
	if len(args) > 2 {
		uid := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid))
		ok = ok && uid == args[2]
		got += " uid " + uid
	}
	if ok == neg {
		ts.Fatalf("stat %s: mode %s, want %v", args[0], got, args[1:])
	}
}

// cmdSameStat records a file's inode and mtime (samestat save FILE) or
// checks they did not change (samestat check FILE): "no write at all".
func cmdSameStat(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: samestat save|check FILE")
	}
	fi, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	st := fi.Sys().(*syscall.Stat_t)
	sig := fmt.Sprintf("%d %d.%d", st.Ino, st.Mtim.Sec, st.Mtim.Nsec)
	saved := ts.MkAbs(args[1] + ".samestat")
	if args[0] == "save" {
		ts.Check(os.WriteFile(saved, []byte(sig), 0o600))
		return
	}
	want := ts.ReadFile(args[1] + ".samestat")
	if (want == sig) == neg {
		ts.Fatalf("samestat %s: inode and mtime %s, before %s", args[1], sig, want)
	}
}

// cmdExitCode runs a program like exec, keeping its output for stdout and
// stderr, and checks its exit status: exitcode STATUS PROGRAM [ARGS...].
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode STATUS PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// flockKey finds a script's held lock among its testscript values.
type flockKey struct{}

type flockHolder struct{ fd int }

// cmdFlock holds an exclusive flock as another sync would: flock hold FILE
// [DURATION] takes it (creating the file), for DURATION when given;
// flock release lets it go.
func cmdFlock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: flock hold FILE [DURATION] | flock release")
	}
	h := ts.Value(flockKey{}).(*flockHolder)
	switch args[0] {
	case "hold":
		p := ts.MkAbs(args[1])
		ts.Check(os.MkdirAll(filepath.Dir(p), 0o755))
		fd, err := syscall.Open(p, syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
		ts.Check(err)
		ts.Check(syscall.Flock(fd, syscall.LOCK_EX))
		h.fd = fd
		if len(args) > 2 {
			d, err := time.ParseDuration(args[2])
			ts.Check(err)
			t := time.AfterFunc(d, func() { syscall.Close(fd) })
			ts.Defer(func() { t.Stop() })
			return
		}
		ts.Defer(func() { syscall.Close(fd) })
	case "release":
		ts.Check(syscall.Close(h.fd))
	default:
		ts.Fatalf("flock: unknown subcommand %q", args[0])
	}
}

// Command ecs-metadata-emulator serves the project's ECS metadata emulator
// (package agent/metadata/emulator) on a TCP address, for `make demo`,
// shell experiments and the container boot test. It is a development tool
// and is not installed by the packages.
//
//	ecs-metadata-emulator [--listen 127.0.0.1:0] [--key-file PATH]... \
//	    [--generate-key PATH] [--instance-id ID] [--token-policy optional] [--addr-file PATH]
//	    [--all-document]
//	ecs-metadata-emulator --control URL [--key-file PATH]... [--generate-key PATH]
//
// --generate-key writes a fresh ed25519 key pair to PATH and PATH.pub and
// binds its public half after the --key-file keys. With --control it serves
// nothing: it binds the given keys (none: detaches) on the emulator already
// running at URL, for scripts such as `make demo` that need no curl.
//
// It prints "listening on http://ADDR" on stdout once it accepts
// connections, writes the same URL to --addr-file if given (removing it on
// exit), binds the content of the n-th --key-file as key pair skp-<n>, and
// stops on SIGINT or SIGTERM. Its state can then be changed over the
// /emulator/ control API described in the emulator package.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintf(os.Stderr, "ecs-metadata-emulator: error: %v\n", err)
		os.Exit(1)
	}
}

const maxKeyFile = 64 << 10

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ecs-metadata-emulator", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "TCP `address` to listen on")
	instanceID := fs.String("instance-id", emulator.DefaultInstanceID, "instance `id` to serve")
	policyName := fs.String("token-policy", string(emulator.TokenOptional), "token `policy`: none, optional, enforced or disabled")
	addrFile := fs.String("addr-file", "", "write the URL to this `file` once listening")
	allDoc := fs.Bool("all-document", false, "serve the whole tree as JSON at /latest/meta-data/all, as ECS does")
	var keyFiles []string
	fs.Func("key-file", "bind this public key `file` as skp-<n> (repeatable)", func(s string) error {
		keyFiles = append(keyFiles, s)
		return nil
	})
	genKey := fs.String("generate-key", "", "write a fresh ed25519 key pair to `PATH` and PATH.pub and bind it")
	control := fs.String("control", "", "bind the keys on the emulator running at `URL` instead of serving")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("parse arguments: unexpected %q", fs.Arg(0))
	}
	if *genKey != "" {
		if err := generateKey(*genKey); err != nil {
			return err
		}
		keyFiles = append(keyFiles, *genKey+".pub")
	}
	if *control != "" {
		keys, err := readKeys(keyFiles)
		if err != nil {
			return err
		}
		return bindRemote(ctx, *control, keys)
	}

	emu := emulator.New()
	emu.SetInstanceID(*instanceID)
	policy, err := emulator.ParseTokenPolicy(*policyName)
	if err != nil {
		return err
	}
	emu.SetTokenPolicy(policy)
	emu.SetAllDocument(*allDoc)
	keys, err := readKeys(keyFiles)
	if err != nil {
		return err
	}
	emu.SetKeys(keys...)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	url := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	if *addrFile != "" {
		if err := writeAddrFile(*addrFile, url); err != nil {
			srv.Close()
			<-served
			return err
		}
		defer os.Remove(*addrFile)
	}
	fmt.Fprintf(stdout, "listening on %s\n", url)

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("serve %s: %w", url, err)
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close() // a delayed or dripping answer outlived the grace period
	}
	<-served
	return nil
}

// readKeys reads each file as one key body, bound as skp-1, skp-2, ...
func readKeys(paths []string) ([]emulator.Key, error) {
	var keys []emulator.Key
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("read key file: %w", err)
		}
		b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read key file %s: %w", p, err)
		}
		if len(b) > maxKeyFile {
			return nil, fmt.Errorf("read key file %s: larger than %d bytes", p, maxKeyFile)
		}
		keys = append(keys, emulator.Key{ID: fmt.Sprintf("skp-%d", i+1), Body: strings.TrimSpace(string(b))})
	}
	return keys, nil
}

// writeAddrFile writes url by rename, so a script polling for the file
// never reads half of it.
func writeAddrFile(path, url string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".addr-*")
	if err != nil {
		return fmt.Errorf("write address file: %w", err)
	}
	_, err = tmp.WriteString(url + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write address file %s: %w", path, err)
	}
	return nil
}

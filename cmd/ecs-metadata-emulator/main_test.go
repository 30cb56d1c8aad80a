package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const keyA = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa a@example"

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id.pub")
	if err := os.WriteFile(keyFile, []byte(keyA+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addrFile := filepath.Join(dir, "addr")

	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--key-file", keyFile, "--instance-id", "i-cmd", "--token-policy", "enforced", "--addr-file", addrFile}, pw)
		pw.Close()
	}()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("read first line: %v", err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line = %q, want listening on http://127.0.0.1:PORT", line)
	}
	go io.Copy(io.Discard, pr)
	if b, err := os.ReadFile(addrFile); err != nil || strings.TrimSpace(string(b)) != url {
		t.Errorf("address file = %q, %v; want %q", b, err, url)
	}

	if status, _ := get(t, url+"/latest/meta-data/instance-id"); status != 403 {
		t.Errorf("tokenless GET under enforced policy = %d, want 403", status)
	}
	if status, _ := get(t, url+"/latest/meta-data/all"); status != 403 {
		t.Errorf("all document under enforced policy = %d, want 403 (the token check comes first)", status)
	}
	if status, body := get(t, url+"/emulator/requests"); status != 200 || !strings.Contains(body, "instance-id") {
		t.Errorf("GET /emulator/requests = %d %q", status, body)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	if _, err := os.Stat(addrFile); !os.IsNotExist(err) {
		t.Errorf("address file left behind: %v", err)
	}
}

func TestRunKeyFiles(t *testing.T) {
	dir := t.TempDir()
	var args []string
	for i, body := range []string{keyA, "ssh-rsa AAAAB3 b@example"} {
		p := filepath.Join(dir, "k"+string(rune('0'+i)))
		os.WriteFile(p, []byte(body+"\n"), 0o644)
		args = append(args, "--key-file", p)
	}
	args = append(args, "--all-document")
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, pw); pw.Close() }()
	line, _ := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	url := strings.TrimPrefix(strings.TrimSpace(line), "listening on ")

	if status, body := get(t, url+"/latest/meta-data/public-keys/"); status != 200 || body != "0/\n1/\nskp-1/\nskp-2/\n" {
		t.Errorf("listing = %d %q", status, body)
	}
	if _, body := get(t, url+"/latest/meta-data/public-keys/skp-2/openssh-key"); body != "ssh-rsa AAAAB3 b@example" {
		t.Errorf("skp-2 body = %q", body)
	}
	if status, body := get(t, url+"/latest/meta-data/all"); status != 200 || !strings.Contains(body, `"skp-2":{"openssh-key":"ssh-rsa AAAAB3 b@example"}`) {
		t.Errorf("with --all-document, the all document = %d %q", status, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestRunRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"policy", []string{"--token-policy", "strict"}, `unknown policy "strict"`},
		{"key file", []string{"--key-file", "/nonexistent/id.pub"}, "read key file"},
		{"listen", []string{"--listen", "256.0.0.1:0"}, "listen on 256.0.0.1:0"},
		{"argument", []string{"extra"}, `unexpected "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t.Context(), tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

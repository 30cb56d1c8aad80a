package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

// generateKey writes a fresh ed25519 key pair: the private key in OpenSSH
// format to path (0600) and the public key to path.pub.
func generateKey(path string) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "ecs-metadata-emulator")
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " emulator-generated\n"
	if err := os.WriteFile(path+".pub", []byte(line), 0o644); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	return nil
}

// bindRemote replaces the bound keys of the emulator at base through its
// control API.
func bindRemote(ctx context.Context, base string, keys []emulator.Key) error {
	if keys == nil {
		keys = []emulator.Key{}
	}
	body, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	url := strings.TrimSuffix(base, "/") + "/emulator/keys"
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("bind keys: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("bind keys: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("bind keys at %s: %s: %s", url, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

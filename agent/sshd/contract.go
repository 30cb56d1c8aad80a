package sshd

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Platform is the mode that follows the platform's password contract: off
// when a key pair is bound, back when it is detached or a target user's
// password is reset, off again when another key pair is bound (Alibaba
// Cloud, "Bind an SSH key pair to an instance" and DetachKeyPair).
const Platform Mode = "platform"

// Contract states.
const (
	ContractOff      = "off"      // the agent turned password login off
	ContractRestored = "restored" // the agent gave password login back
)

// Contract is where the password contract stands, kept in the state file
// between syncs.
type Contract struct {
	State string    `json:"state"` // ContractOff or ContractRestored
	Since time.Time `json:"since"`
	Why   string    `json:"why"`
	// Keys are the fingerprints bound when State began: a different key
	// pair ends a restore.
	Keys []string `json:"keys,omitempty"`
	// Shadow holds, per target user, a digest of the shadow entry when the
	// agent turned passwords off (account.Password.Digest, never the
	// hash): a change is a password reset.
	Shadow map[string]string `json:"shadow,omitempty"`
}

// decision is what the contract asks of this sync.
type decision struct {
	restore bool   // give password login back (keep), else turn it off
	why     string // in words, for the report and the journal
	reset   string // the user whose password was reset, when that is why
}

// decide applies the platform contract to what this sync sees.
func decide(req Request) decision {
	prev := req.Previous
	if !req.KeyBound {
		return decision{restore: true, why: "the key pair was detached"}
	}
	if prev != nil && prev.State == ContractRestored && slices.Equal(prev.Keys, req.Keys) {
		return decision{restore: true, why: prev.Why}
	}
	if prev != nil && prev.State == ContractOff && slices.Equal(prev.Keys, req.Keys) {
		for _, t := range req.Targets {
			was, had := prev.Shadow[t.User]
			now := req.Passwords[t.User]
			if had && now.Digest != "" && now.Digest != was && now.Usable {
				return decision{restore: true, why: t.User + "'s password was reset", reset: t.User}
			}
		}
	}
	return decision{why: "a key pair is bound"}
}

// next is the contract after this sync: off is whether password login is
// off by the agent's hand now.
func next(req Request, d decision, off bool) *Contract {
	prev := req.Previous
	switch {
	case d.restore && req.KeyBound:
		if prev != nil && prev.State == ContractRestored && slices.Equal(prev.Keys, req.Keys) {
			return prev
		}
		return &Contract{State: ContractRestored, Since: req.Now, Why: d.why, Keys: req.Keys}
	case d.restore:
		if prev != nil && prev.State == ContractRestored && prev.Why == d.why {
			return prev
		}
		return &Contract{State: ContractRestored, Since: req.Now, Why: d.why}
	case !off:
		return nil
	}
	c := &Contract{State: ContractOff, Since: req.Now, Why: d.why, Keys: req.Keys, Shadow: map[string]string{}}
	if prev != nil && prev.State == ContractOff && slices.Equal(prev.Keys, req.Keys) {
		c.Since = prev.Since
		for u, dg := range prev.Shadow {
			c.Shadow[u] = dg
		}
	}
	for _, t := range req.Targets {
		if _, ok := c.Shadow[t.User]; !ok && req.Passwords[t.User].Digest != "" {
			c.Shadow[t.User] = req.Passwords[t.User].Digest
		}
	}
	return c
}

// String says the contract in one line, for the summary and status.
func (c *Contract) String() string {
	if c == nil {
		return ""
	}
	at := c.Since.Local().Format(time.RFC3339)
	switch c.State {
	case ContractOff:
		return fmt.Sprintf("password login off since %s: %s", at, c.Why)
	case ContractRestored:
		return fmt.Sprintf("password login restored at %s: %s", at, c.Why)
	}
	return strings.TrimSpace(c.State + " " + c.Why)
}

package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// TokenPolicy is how the emulator treats the security-hardening token.
type TokenPolicy string

// Token policies; see the package comment.
const (
	TokenNone     TokenPolicy = "none"
	TokenOptional TokenPolicy = "optional"
	TokenEnforced TokenPolicy = "enforced"
	TokenDisabled TokenPolicy = "disabled"
)

func (p TokenPolicy) valid() bool {
	switch p {
	case TokenNone, TokenOptional, TokenEnforced, TokenDisabled:
		return true
	}
	return false
}

// ParseTokenPolicy returns the policy named s.
func ParseTokenPolicy(s string) (TokenPolicy, error) {
	p := TokenPolicy(s)
	if !p.valid() {
		return "", fmt.Errorf("parse token policy: unknown policy %q (want none, optional, enforced or disabled)", s)
	}
	return p, nil
}

// DefaultInstanceID is the instance id of a new Server.
const DefaultInstanceID = "i-emulator0001"

const maxRequests = 1000

// Key is a key pair bound to the emulated instance.
type Key struct {
	ID   string `json:"id"`   // key-pair id such as "skp-x"; empty lists the index only
	Body string `json:"body"` // served as public-keys/<id>/openssh-key
}

// Request is one metadata request the emulator saw.
type Request struct {
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Token     bool      `json:"token"`     // carried X-aliyun-ecs-metadata-token
	Forwarded bool      `json:"forwarded"` // carried X-Forwarded-For
	Time      time.Time `json:"time"`
}

// Server emulates the metadata service. The zero value is not usable; call New.
type Server struct {
	mu         sync.Mutex
	instanceID string
	keys       []Key
	policy     TokenPolicy
	tokens     map[string]time.Time // token -> expiry
	faults     map[string]*Fault    // path -> fault, Times counting down
	requests   []Request            // last maxRequests
	all        bool                 // serve /latest/meta-data/all
}

// New returns an emulator for instance DefaultInstanceID with token policy
// "optional" and no key bound.
func New() *Server {
	return &Server{
		instanceID: DefaultInstanceID,
		policy:     TokenOptional,
		tokens:     make(map[string]time.Time),
		faults:     make(map[string]*Fault),
	}
}

// SetKeys replaces the bound key pairs; no keys detaches (public-keys/ 404).
func (s *Server) SetKeys(keys ...Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = slices.Clone(keys)
}

// SetAllDocument turns the /latest/meta-data/all document on or off; a new
// Server does not serve it (see the package comment).
func (s *Server) SetAllDocument(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = on
}

// SetInstanceID sets the instance id served.
func (s *Server) SetInstanceID(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instanceID = id
}

// SetTokenPolicy sets how tokens are issued and checked. An unknown policy panics.
func (s *Server) SetTokenPolicy(p TokenPolicy) {
	if !p.valid() {
		panic(fmt.Sprintf("emulator: unknown token policy %q", p))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy = p
}

// SetFault makes requests to path (e.g. "/latest/meta-data/public-keys/" or
// "/latest/api/token") misbehave as f says. A zero Fault clears the fault on
// path; path "" clears all faults.
func (s *Server) SetFault(path string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case path == "":
		clear(s.faults)
	case f.isZero():
		delete(s.faults, path)
	default:
		s.faults[path] = &f
	}
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.SetFault("", Fault{}) }

// ExpireTokens makes every token issued so far invalid.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Requests returns the last 1000 metadata requests, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == maxRequests {
		s.requests = slices.Delete(s.requests, 0, 1)
	}
	s.requests = append(s.requests, Request{
		Method:    r.Method,
		Path:      r.URL.Path,
		Token:     r.Header.Get(tokenHeader) != "",
		Forwarded: r.Header.Get("X-Forwarded-For") != "",
		Time:      time.Now(),
	})
}

// takeFault returns the fault for path, if any, counting down its Times.
func (s *Server) takeFault(path string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.faults[path]
	if !ok {
		return Fault{}, false
	}
	out := *f
	if f.Times > 0 {
		f.Times--
		if f.Times == 0 {
			delete(s.faults, path)
		}
	}
	return out, true
}

func (s *Server) issueToken(ttl time.Duration) string {
	b := make([]byte, 24)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = time.Now().Add(ttl)
	return tok
}

func (s *Server) tokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

// keyBody returns the body served for a listing id: an index or a key-pair id.
func (s *Server) keyBody(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.keys {
		if id == fmt.Sprint(i) || (k.ID != "" && id == k.ID) {
			return k.Body, true
		}
	}
	return "", false
}

// allDocument returns the /latest/meta-data/all body, or false when it is
// not served.
func (s *Server) allDocument() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.all {
		return "", false
	}
	doc := map[string]any{
		"instance-id":  s.instanceID,
		"hostname":     "iZ" + s.instanceID + "Z",
		"region-id":    "cn-hangzhou",
		"zone-id":      "cn-hangzhou-i",
		"network-type": "vpc",
		"image-id":     "m-emulator0001",
		"dns-conf":     map[string]any{"nameservers": "100.100.2.136\r\n100.100.2.138"},
		"ntp-conf":     map[string]any{"ntp-servers": []string{"ntp1.aliyun.com", "ntp2.aliyun.com"}},
	}
	if len(s.keys) > 0 {
		keys := map[string]any{}
		for i, k := range s.keys {
			keys[fmt.Sprint(i)] = map[string]string{"openssh-key": k.Body}
			if k.ID != "" {
				keys[k.ID] = map[string]string{"openssh-key": k.Body}
			}
		}
		doc["public-keys"] = keys
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("emulator: encode the all document: %v", err))
	}
	return string(b), true
}

// listing returns the public-keys/ body, or false when no key is bound.
func (s *Server) listing() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.keys) == 0 {
		return "", false
	}
	var b strings.Builder
	seen := make(map[string]bool)
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			b.WriteString(id + "/\n")
		}
	}
	for i := range s.keys {
		add(fmt.Sprint(i))
	}
	for _, k := range s.keys {
		add(k.ID)
	}
	return b.String(), true
}

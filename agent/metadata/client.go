package metadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// ErrNoKeyBound is wrapped by Fetch when public-keys/ answers 404, the
// service's one way of saying that no key pair is bound to the instance.
var ErrNoKeyBound = errors.New("no key pair bound to the instance")

// Limits on what the service may send (guest-agent #481: bound every buffer).
const (
	maxBody         = 64 << 10 // openssh-key and the listing
	maxInstanceID   = 256
	maxTokenBody    = 4 << 10
	maxListEntries  = 100
	maxHeaderBytes  = 64 << 10
	idleConnTimeout = 2 * time.Minute // above the default 30 s poll, so polls reuse a connection
)

// Paths under the endpoint (Alibaba Cloud, "Instance metadata").
const (
	tokenPath      = "/latest/api/token"
	instanceIDPath = "/latest/meta-data/instance-id"
	publicKeysPath = "/latest/meta-data/public-keys/"
)

// Entry is one key pair from the public-keys/ listing.
type Entry struct {
	ID   string // the key-pair id ("skp-bp1x") when listed, else the index ("0")
	Body []byte // the openssh-key body as served, not validated
}

// Snapshot is what the metadata service says about the instance's keys.
type Snapshot struct {
	Endpoint   string // the endpoint that was asked last: the configured one or its fallback
	InstanceID string
	Keys       []Entry // in listing order, one per distinct body (surrounding whitespace ignored)
	Source     Source  // where the keys were read
}

// Source says how a Snapshot's keys were read.
type Source string

const (
	// SourceAll: the /latest/meta-data/all document; its listing, when it
	// has no key, from public-keys/.
	SourceAll Source = "all"
	// SourceTree: the public-keys/ listing and each openssh-key.
	SourceTree Source = "tree"
)

// Client reads key pairs from the metadata service. It is safe for
// concurrent use and reuses its token across calls.
type Client struct {
	cfg   Config
	base  string // "scheme://host", the endpoint in use; under mu
	other string // the fallback, or the configured endpoint once switched; "" for none
	err   error  // from Config.Validate, returned by every Fetch
	http  *http.Client

	putSem chan struct{} // one token PUT at a time; waiting honours ctx

	mu        sync.Mutex
	token     string
	refreshAt time.Time
	tokenless bool   // TokenAuto fell back after a 404 or 405 on the PUT
	id        string // the instance id, once read
	noAll     bool   // the service answered 404 to the all document
}

// New returns a client for cfg. An invalid cfg is reported by every Fetch;
// call cfg.Validate first to fail earlier.
func New(cfg Config) *Client {
	cfg = cfg.withDefaults()
	c := &Client{cfg: cfg, putSem: make(chan struct{}, 1)}
	c.err = cfg.Validate()
	if ep, err := ParseEndpoint(cfg.Endpoint); err == nil {
		c.base = string(ep)
	}
	if ep, err := ParseEndpoint(cfg.Fallback); err == nil && cfg.Fallback != "" {
		c.other = string(ep)
	}
	dialer := &net.Dialer{Timeout: cfg.RequestTimeout}
	defer func() {
		if cfg.Logger != nil && cfg.Logger.Core().Enabled(zap.DebugLevel) {
			c.http.Transport = loggingTransport{next: c.http.Transport, log: cfg.Logger}
		}
	}()
	c.http = &http.Client{
		Transport: &http.Transport{
			// The service refuses proxied requests (403 on X-Forwarded-For)
			// and must only ever be asked directly: no proxy from the
			// environment, whatever HTTP_PROXY says.
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			MaxIdleConns:           2,
			MaxIdleConnsPerHost:    2,
			IdleConnTimeout:        idleConnTimeout,
			TLSHandshakeTimeout:    cfg.RequestTimeout,
			MaxResponseHeaderBytes: maxHeaderBytes,
			// Size limits then apply to the bytes on the wire too.
			DisableCompression: true,
		},
		// A redirect would take the request, and the token, elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return c
}

// CloseIdleConnections closes kept-alive connections to the service.
func (c *Client) CloseIdleConnections() {
	c.http.CloseIdleConnections()
}

// Fetch reads the instance id and every bound key. It asks for the whole
// tree as one JSON document first (see allPath); when the service answers
// 404 there, it remembers that for the client's life and crawls instead:
// the instance id (once per client), the public-keys/ listing and every
// listed openssh-key. Any other failure of either is an error naming the
// URL. When no key pair is bound it returns a Snapshot with InstanceID set
// and an error wrapping ErrNoKeyBound: only public-keys/ answering 404 says
// so, so a document without keys is checked against the listing.
func (c *Client) Fetch(ctx context.Context) (Snapshot, error) {
	if c.err != nil {
		return Snapshot{}, c.err
	}
	snap, err := c.fetch(ctx)
	if err != nil && c.cfg.Fallback != "" && unreachable(err) {
		// The endpoint could not be reached at all (no HTTP answer): ECS
		// serves the same tree over IPv6 (cloud-init #6892 and PR #6893).
		// Try the other one, and keep whichever answers.
		c.switchEndpoint()
		snap, err = c.fetch(ctx)
		if err != nil && unreachable(err) {
			c.switchEndpoint()
		}
	}
	snap.Endpoint = c.url()
	return snap, err
}

// fetch is one Fetch against the endpoint in use.
func (c *Client) fetch(ctx context.Context) (Snapshot, error) {
	if c.useAll() {
		snap, ok, err := c.fetchAll(ctx)
		if ok {
			return snap, err
		}
	}
	id, err := c.instanceID(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	return c.crawl(ctx, id)
}

// fetchAll reads the all document; ok is false when the service does not
// serve it (404), and Fetch must crawl.
func (c *Client) fetchAll(ctx context.Context) (snap Snapshot, ok bool, err error) {
	u := c.url() + allPath
	body, err := c.get(ctx, u, maxAllBody)
	if errors.Is(err, errNotFound) {
		c.mu.Lock()
		c.noAll = true
		c.mu.Unlock()
		return Snapshot{}, false, nil
	}
	if err != nil {
		return Snapshot{InstanceID: c.knownID()}, true, err
	}
	doc, err := parseAll(body)
	if err != nil {
		return Snapshot{InstanceID: c.knownID()}, true, fmt.Errorf("fetch %s: %w", u, err)
	}
	c.mu.Lock()
	c.id = doc.instanceID
	c.mu.Unlock()
	if len(doc.keys) == 0 {
		snap, err := c.crawl(ctx, doc.instanceID)
		snap.Source = SourceAll
		return snap, true, err
	}
	snap = Snapshot{InstanceID: doc.instanceID, Source: SourceAll}
	seen := make(map[string]int, len(doc.keys))
	for _, k := range doc.keys {
		snap.add(seen, k.id, k.body)
	}
	return snap, true, nil
}

// crawl reads the public-keys/ listing and every listed openssh-key.
func (c *Client) crawl(ctx context.Context, id string) (Snapshot, error) {
	snap := Snapshot{InstanceID: id, Source: SourceTree}
	ids, err := c.list(ctx)
	if err != nil {
		return snap, err
	}
	seen := make(map[string]int, len(ids)) // body -> index in snap.Keys
	for _, keyID := range ids {
		u := c.url() + publicKeysPath + keyID + "/openssh-key"
		body, err := c.get(ctx, u, maxBody)
		if errors.Is(err, errNotFound) {
			// Only public-keys/ itself may be absent (afterburn's aliyun
			// provider treats this the same way).
			return Snapshot{InstanceID: id, Source: SourceTree}, fmt.Errorf("fetch %s: 404 Not Found although public-keys/ lists %q", u, keyID)
		}
		if err != nil {
			return Snapshot{InstanceID: id, Source: SourceTree}, err
		}
		snap.add(seen, keyID, body)
	}
	return snap, nil
}

// add appends one listed key to s unless its body (surrounding whitespace
// ignored) is already there. Real ECS lists one key twice, as "0/" and as
// its key-pair id: it is named by its key-pair id ("skp-..."), which the
// console shows, rather than by its index.
func (s *Snapshot) add(seen map[string]int, keyID string, body []byte) {
	norm := string(bytes.TrimSpace(body))
	if i, ok := seen[norm]; ok {
		if isIndex(s.Keys[i].ID) && !isIndex(keyID) {
			s.Keys[i].ID = keyID
		}
		return
	}
	seen[norm] = len(s.Keys)
	s.Keys = append(s.Keys, Entry{ID: keyID, Body: body})
}

// useAll reports whether the service may serve the all document: until it
// answered 404 there.
func (c *Client) useAll() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.noAll
}

// knownID is the instance id read so far, "" before any.
func (c *Client) knownID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// instanceID reads the instance id once per client: it cannot change under
// a running agent, and an idle daemon saves one request in four per poll.
func (c *Client) instanceID(ctx context.Context) (string, error) {
	c.mu.Lock()
	id := c.id
	c.mu.Unlock()
	if id != "" {
		return id, nil
	}
	id, err := c.readInstanceID(ctx)
	if err == nil {
		c.mu.Lock()
		c.id = id
		c.mu.Unlock()
	}
	return id, err
}

func (c *Client) readInstanceID(ctx context.Context) (string, error) {
	u := c.url() + instanceIDPath
	body, err := c.get(ctx, u, maxInstanceID)
	if err != nil {
		return "", err
	}
	id := string(bytes.TrimSpace(body))
	if id == "" {
		return "", fmt.Errorf("fetch %s: empty instance id", u)
	}
	if !printable(id) {
		return "", fmt.Errorf("fetch %s: instance id %q has characters other than printable ascii", u, id)
	}
	return id, nil
}

func (c *Client) list(ctx context.Context) ([]string, error) {
	u := c.url() + publicKeysPath
	body, err := c.get(ctx, u, maxBody)
	if errors.Is(err, errNotFound) {
		return nil, fmt.Errorf("fetch %s: %w", u, ErrNoKeyBound)
	}
	if err != nil {
		return nil, err
	}
	ids, err := parseListing(body)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	return ids, nil
}

// printable reports whether s is all printable ASCII without spaces.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// isIndex reports whether a listing id is a bare index such as "0".
func isIndex(id string) bool {
	for _, r := range id {
		if r < '0' || r > '9' {
			return false
		}
	}
	return id != ""
}

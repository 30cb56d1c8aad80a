// Package metadata reads the SSH key pair bound to an Alibaba Cloud ECS
// instance from the instance metadata service (IMDS) at
// http://100.100.100.200.
//
// A Client reads the whole tree as one JSON document,
// /latest/meta-data/all, and takes the instance id and the keys from it:
// one request a poll where crawling the tree takes three or more. Where the
// service answers 404 there, it crawls instead, as cloud-init's aliyun
// datasource does (cloudinit/sources/DataSourceAliYun.py): the instance id,
// the public-keys/ listing and each listed openssh-key. Either way it
// returns a Snapshot. A 404 on public-keys/ is the one answer that means
// "no key pair bound" (ErrNoKeyBound), so a document that lists no key is
// checked against the listing; every other failure is an error naming the
// URL, so the caller keeps what it has instead of removing keys on a bad
// answer (Google's guest agent once emptied authorized_keys that way,
// guest-agent PR #582).
//
// The client speaks the security-hardening (token) mode: it PUTs
// /latest/api/token with X-aliyun-ecs-metadata-token-ttl-seconds, sends the
// token in X-aliyun-ecs-metadata-token on every GET, reuses it until 0.8 x
// TTL (as Alibaba's credentials SDK does) and, like cloud-init, drops it and
// asks once more on a 401. TokenAuto falls back to plain GETs only when the
// PUT answers 404 or 405; it remembers the fallback until a plain GET is
// refused with 403 (the instance turned hardened mode on), then asks for a
// token once more.
//
// The metadata service answers only on the instance and rejects requests
// that carry X-Forwarded-For, so the client never uses a proxy from the
// environment and never follows redirects. Every answer is bounded in size
// and every request in time (guest-agent #179 and #481).
package metadata

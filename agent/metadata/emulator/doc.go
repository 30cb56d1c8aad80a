// Package emulator is the project's stand-in for the ECS instance metadata
// service: an http.Handler serving instance-id, public-keys/ and
// public-keys/<id>/openssh-key under /latest/meta-data/, and the token
// endpoint PUT /latest/api/token of the security-hardening mode. Its state
// (keys, instance id, token policy, injected faults) can change while it
// runs, and it is safe for concurrent use. Tests use it in process through
// httptest; `make demo` and the container boot test run it as the
// ecs-metadata-emulator program and steer it over HTTP.
//
// # Behaviour, as on ECS (Alibaba Cloud, "Instance metadata")
//
// A bound key is listed twice, as its index and as its key-pair id
// ("0/\nskp-x/\n"), both serving the same body, so clients must
// de-duplicate. With no key bound, public-keys/ answers 404.
//
// The whole tree as one JSON document, /latest/meta-data/all, is served only
// after SetAllDocument(true) (control API: PUT /emulator/all-document true;
// ecs-metadata-emulator --all-document), so that a fault set on a path of
// the tree reaches a client that reads the document first. Like ECS's, it
// holds instance-id, a few other leaves the agent does not read, and, while
// a key is bound, "public-keys": {"0": {"openssh-key": BODY}, "skp-x":
// {"openssh-key": BODY}}; with no key bound it has no "public-keys".
//
// Token policies: "none" answers 404 to the token PUT (a service without
// token support); "optional" issues tokens and checks one when a GET
// carries it, but allows tokenless GETs; "enforced" answers 403 to tokenless
// GETs; "disabled" answers 403 to the PUT and to every GET. A PUT whose
// X-aliyun-ecs-metadata-token-ttl-seconds is missing or outside 1..21600
// gets 400; a PUT carrying X-Forwarded-For gets 403; an unknown or expired
// token gets 401.
//
// # Control API
//
// On the same listener, under /emulator/, all bodies JSON:
//
//	PUT    /emulator/keys           [{"id":"skp-1","body":"ssh-ed25519 AAAA..."}]; [] detaches
//	PUT    /emulator/instance-id    "i-abc"
//	PUT    /emulator/token-policy   "enforced"
//	PUT    /emulator/all-document   true; false stops serving /latest/meta-data/all
//	PUT    /emulator/fault?path=P   a Fault, e.g. {"status":500,"times":1} or {"delay":"3s"}
//	DELETE /emulator/fault?path=P   clear the fault on P
//	DELETE /emulator/faults         clear all faults
//	POST   /emulator/expire-tokens  make every issued token invalid
//	GET    /emulator/requests       the request log, oldest first
//
// Successful changes answer 204; bad input answers 400 with a line of text.
// Fault fields: status, delay and drip (Go durations such as "150ms"), body
// (a string; present, even empty, means "serve this"), body_size, drop,
// redirect_to, times. Requests to /emulator/ are not logged.
package emulator

package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Fault makes the emulator misbehave on one path. Fields combine: Delay
// happens first, then RedirectTo, Status, Body and BodySize shape the
// answer, and Drop or Drip change how it is written.
type Fault struct {
	Status     int           // answer this status instead
	Delay      time.Duration // wait before answering, or until the client leaves
	Body       []byte        // serve this body instead (nil: keep the answer's)
	BodySize   int           // pad the body with 'A' to this many bytes
	Drip       time.Duration // write the body one byte per Drip
	Drop       bool          // send the headers and half the body, then reset the connection
	RedirectTo string        // answer 302 (or Status) with this Location
	Times      int           // apply this many times, then clear; 0 until cleared
}

func (f Fault) isZero() bool {
	return f.Status == 0 && f.Delay == 0 && f.Body == nil && f.BodySize == 0 &&
		f.Drip == 0 && !f.Drop && f.RedirectTo == "" && f.Times == 0
}

// apply changes resp as f says; Delay, Drip and Drop are for write.
func (f Fault) apply(resp *response) {
	if f.RedirectTo != "" {
		resp.status = http.StatusFound
		resp.header.Set("Location", f.RedirectTo)
		resp.body = []byte(http.StatusText(http.StatusFound) + "\n")
	}
	if f.Status != 0 {
		resp.status = f.Status
		resp.body = []byte(http.StatusText(f.Status) + "\n")
	}
	if f.Body != nil {
		resp.body = bytes.Clone(f.Body)
	}
	if pad := f.BodySize - len(resp.body); pad > 0 {
		resp.body = append(resp.body, bytes.Repeat([]byte("A"), pad)...)
	}
}

// write sends resp, dripping or dropping it if f says so.
func (f Fault) write(w http.ResponseWriter, r *http.Request, resp response) {
	if f.Drop {
		drop(w, resp)
		return
	}
	h := w.Header()
	for k, v := range resp.header {
		h[k] = v
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	w.WriteHeader(resp.status)
	if r.Method == http.MethodHead {
		return
	}
	if f.Drip <= 0 {
		w.Write(resp.body)
		return
	}
	rc := http.NewResponseController(w)
	for i := range resp.body {
		if _, err := w.Write(resp.body[i : i+1]); err != nil {
			return
		}
		if rc.Flush() != nil || !sleep(r, f.Drip) {
			return
		}
	}
}

// drop promises the whole body, sends half and resets the connection, as a
// crashing or unplugged server would.
func drop(w http.ResponseWriter, resp response) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "emulator: cannot hijack to drop: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n",
		resp.status, http.StatusText(resp.status), len(resp.body))
	resp.header.Write(buf)
	buf.WriteString("\r\n")
	buf.Write(resp.body[:len(resp.body)/2])
	buf.Flush()
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0) // close with RST, not FIN
	}
}

// maxFaultBodySize keeps a control request from making the emulator
// allocate without bound.
const maxFaultBodySize = 16 << 20

// faultJSON is Fault on the wire, with durations as Go duration strings and
// the body as a string whose presence, even empty, means "serve this".
type faultJSON struct {
	Status     int     `json:"status,omitempty"`
	Delay      string  `json:"delay,omitempty"`
	Body       *string `json:"body,omitempty"`
	BodySize   int     `json:"body_size,omitempty"`
	Drip       string  `json:"drip,omitempty"`
	Drop       bool    `json:"drop,omitempty"`
	RedirectTo string  `json:"redirect_to,omitempty"`
	Times      int     `json:"times,omitempty"`
}

// MarshalJSON encodes f as the control API expects it.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Status: f.Status, BodySize: f.BodySize, Drop: f.Drop, RedirectTo: f.RedirectTo, Times: f.Times}
	if f.Delay != 0 {
		j.Delay = f.Delay.String()
	}
	if f.Drip != 0 {
		j.Drip = f.Drip.String()
	}
	if f.Body != nil {
		b := string(f.Body)
		j.Body = &b
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes a Fault, refusing unknown fields and bad values.
func (f *Fault) UnmarshalJSON(data []byte) error {
	var j faultJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("decode fault: %w", err)
	}
	var out Fault
	var err error
	if j.Delay != "" {
		if out.Delay, err = time.ParseDuration(j.Delay); err != nil {
			return fmt.Errorf("decode fault delay: %w", err)
		}
	}
	if j.Drip != "" {
		if out.Drip, err = time.ParseDuration(j.Drip); err != nil {
			return fmt.Errorf("decode fault drip: %w", err)
		}
	}
	switch {
	case j.Status != 0 && (j.Status < 100 || j.Status > 599):
		return fmt.Errorf("decode fault: status %d outside 100..599", j.Status)
	case out.Delay < 0 || out.Drip < 0 || j.BodySize < 0 || j.Times < 0:
		return fmt.Errorf("decode fault: negative delay, drip, body_size or times")
	case j.BodySize > maxFaultBodySize:
		return fmt.Errorf("decode fault: body_size %d over %d", j.BodySize, maxFaultBodySize)
	}
	out.Status, out.BodySize, out.Drop, out.RedirectTo, out.Times = j.Status, j.BodySize, j.Drop, j.RedirectTo, j.Times
	if j.Body != nil {
		out.Body = []byte(*j.Body)
	}
	*f = out
	return nil
}

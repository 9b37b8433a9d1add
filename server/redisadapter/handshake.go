package redisadapter

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/tsunagi/tsunagi/server"
)

// jsHandshake is socket.handshake as Node sends it in a fetchSockets
// answer (its sessionStore left out).
type jsHandshake struct {
	Headers map[string]json.RawMessage `json:"headers"`
	Time    string                     `json:"time"`
	Address string                     `json:"address"`
	XDomain bool                       `json:"xdomain"`
	Secure  bool                       `json:"secure"`
	Issued  int64                      `json:"issued"`
	URL     string                     `json:"url"`
	Query   map[string]json.RawMessage `json:"query"`
	Auth    json.RawMessage            `json:"auth"`
}

// jsDateLayout is Date.prototype.toString's layout, up to the zone name.
const jsDateLayout = "Mon Jan 02 2006 15:04:05 GMT-0700"

// HandshakeJSON encodes hs as Node's socket.handshake: header names in
// lower case, one string each (repeats joined with ", ", set-cookie kept as
// an array), time as Date.toString writes it, issued in epoch
// milliseconds, query as an object and auth as its JSON ({} when none).
func HandshakeJSON(hs server.Handshake) JSONValue {
	h := jsHandshake{
		Headers: map[string]json.RawMessage{},
		Time:    hs.Time.Format(jsDateLayout) + " (" + zoneName(hs.Time) + ")",
		Address: hs.Address,
		XDomain: hs.Headers.Get("Origin") != "",
		Issued:  hs.Time.UnixMilli(),
		URL:     hs.URL,
		Query:   map[string]json.RawMessage{},
		Auth:    hs.Auth,
	}
	for k, vs := range hs.Headers {
		name := strings.ToLower(k)
		var b []byte
		if name == "set-cookie" {
			b, _ = json.Marshal(vs)
		} else {
			b, _ = json.Marshal(strings.Join(vs, ", "))
		}
		h.Headers[name] = b
	}
	for k, vs := range hs.Query {
		if len(vs) > 0 {
			b, _ := json.Marshal(vs[len(vs)-1])
			h.Query[k] = b
		}
	}
	if len(h.Auth) == 0 || !json.Valid(h.Auth) {
		h.Auth = json.RawMessage(`{}`)
	}
	b, err := json.Marshal(h)
	if err != nil {
		return JSONValue(`{}`)
	}
	return JSONValue(b)
}

func zoneName(t time.Time) string {
	if name, off := t.Zone(); off == 0 && (name == "UTC" || name == "") {
		return "Coordinated Universal Time"
	} else {
		return name
	}
}

// ParseHandshake reads a handshake in Node's form (HandshakeJSON's) into a
// server.Handshake; what it cannot read stays zero. Header values that are
// arrays keep each element.
func ParseHandshake(v JSONValue) server.Handshake {
	var h jsHandshake
	if len(v) == 0 || json.Unmarshal(v, &h) != nil {
		return server.Handshake{}
	}
	hs := server.Handshake{
		Headers: http.Header{},
		Query:   url.Values{},
		Address: h.Address,
		URL:     h.URL,
	}
	if len(h.Auth) > 0 && string(h.Auth) != "null" {
		hs.Auth = h.Auth
	}
	if h.Issued > 0 {
		hs.Time = time.UnixMilli(h.Issued)
	} else if len(h.Time) >= len(jsDateLayout) {
		hs.Time, _ = time.Parse(jsDateLayout, h.Time[:len(jsDateLayout)])
	}
	for _, k := range sortedKeys(h.Headers) {
		name := http.CanonicalHeaderKey(k)
		var s string
		var list []string
		if json.Unmarshal(h.Headers[k], &s) == nil {
			hs.Headers.Add(name, s)
		} else if json.Unmarshal(h.Headers[k], &list) == nil {
			for _, s := range list {
				hs.Headers.Add(name, s)
			}
		}
	}
	for _, k := range sortedKeys(h.Query) {
		var s string
		var list []string
		if json.Unmarshal(h.Query[k], &s) == nil {
			hs.Query.Add(k, s)
		} else if json.Unmarshal(h.Query[k], &list) == nil {
			for _, s := range list {
				hs.Query.Add(k, s)
			}
		}
	}
	return hs
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tsunagi/tsunagi/internal/jsoncodec"
)

// EIOType is the type of an Engine.IO v4 packet: the first character of a
// text WebSocket message.
type EIOType byte

// Engine.IO v4 packet types.
const (
	EIOOpen    EIOType = '0'
	EIOClose   EIOType = '1'
	EIOPing    EIOType = '2'
	EIOPong    EIOType = '3'
	EIOMessage EIOType = '4'
	EIOUpgrade EIOType = '5'
	EIONoop    EIOType = '6'
)

func (t EIOType) String() string {
	switch t {
	case EIOOpen:
		return "open"
	case EIOClose:
		return "close"
	case EIOPing:
		return "ping"
	case EIOPong:
		return "pong"
	case EIOMessage:
		return "message"
	case EIOUpgrade:
		return "upgrade"
	case EIONoop:
		return "noop"
	}
	return fmt.Sprintf("EIOType(%q)", byte(t))
}

// Protocol defaults, the same as Socket.IO's.
const (
	DefaultPingInterval   = 25 * time.Second
	DefaultPingTimeout    = 20 * time.Second
	DefaultMaxPayload     = 1_000_000
	DefaultMaxAttachments = 10
	DefaultConnectTimeout = 45 * time.Second
)

// MaxAckID is the largest ack id accepted: 2^53, the largest integer that a
// JavaScript number holds exactly.
const MaxAckID = 1 << 53

// ErrEmptyMessage is returned for a text message with no packet type.
var ErrEmptyMessage = errors.New("tsunagi: empty Engine.IO packet")

// DecodeEIO splits a text WebSocket message into its Engine.IO packet type
// and data. It rejects unknown types.
func DecodeEIO(msg []byte) (EIOType, []byte, error) {
	if len(msg) == 0 {
		return 0, nil, ErrEmptyMessage
	}
	t := EIOType(msg[0])
	if t < EIOOpen || t > EIONoop {
		return 0, nil, fmt.Errorf("tsunagi: unknown Engine.IO packet type %q", msg[0])
	}
	return t, msg[1:], nil
}

// OpenPacket is the data of the Engine.IO open packet the server sends first.
type OpenPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"` // milliseconds
	PingTimeout  int64    `json:"pingTimeout"`  // milliseconds
	MaxPayload   int64    `json:"maxPayload"`
}

// Encode returns the open packet as a text message: "0{...}".
func (o OpenPacket) Encode() []byte {
	if o.Upgrades == nil {
		o.Upgrades = []string{}
	}
	b, _ := jsoncodec.Marshal(o) // cannot fail: plain fields
	return append([]byte{byte(EIOOpen)}, b...)
}

// DecodeOpen parses the data of an open packet and checks its values.
func DecodeOpen(data []byte) (OpenPacket, error) {
	var o OpenPacket
	v, err := jsoncodec.DecodeAny(data, true)
	m, ok := v.(map[string]any)
	if err != nil || !ok {
		return o, fmt.Errorf("tsunagi: invalid open packet %.100s", data)
	}
	o.SID, _ = m["sid"].(string)
	if ups, ok := m["upgrades"].([]any); ok {
		o.Upgrades = make([]string, len(ups))
		for i, u := range ups {
			if o.Upgrades[i], ok = u.(string); !ok {
				return o, fmt.Errorf("tsunagi: invalid open packet %.100s", data)
			}
		}
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"pingInterval", &o.PingInterval}, {"pingTimeout", &o.PingTimeout}, {"maxPayload", &o.MaxPayload}} {
		if n, ok := m[f.name].(json.Number); ok {
			*f.dst, _ = strconv.ParseInt(string(n), 10, 64)
		}
	}
	if o.SID == "" || o.PingInterval <= 0 || o.PingTimeout <= 0 {
		return o, fmt.Errorf("tsunagi: invalid open packet %.100s", data)
	}
	return o, nil
}

package redisadapter

import (
	"encoding/json"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Response is a message on a response channel ({key}-response#{nsp}# or the
// specific one). Node's untyped responses (Type 0) are read according to the
// request their RequestID names:
//
//	SOCKETS            Sockets
//	ALL_ROOMS          Rooms
//	REMOTE_FETCH       FetchedSockets
//	legacy JOIN/LEAVE/DISCONNECT: RequestID only
//
// The typed ones are SERVER_SIDE_EMIT (6, Data: the first ack argument),
// BROADCAST_CLIENT_COUNT (8, ClientCount) and BROADCAST_ACK (9, Packet: the
// first ack argument; nil when the client acked with no argument).
type Response struct {
	Type      RequestType
	RequestID string
	// Sockets are socket ids. Encode writes them when FetchedSockets is
	// nil.
	Sockets []string
	// FetchedSockets are the sockets of a REMOTE_FETCH answer. Decoding
	// an empty "sockets" array sets both Sockets and FetchedSockets to
	// empty, non-nil slices.
	FetchedSockets []SocketInfo
	// Rooms are the rooms of an ALL_ROOMS answer.
	Rooms       []string
	Data        JSONValue
	ClientCount int
	Packet      Value
}

// SocketInfo is one socket in a REMOTE_FETCH answer.
type SocketInfo struct {
	ID string `msgpack:"id" json:"id"`
	// Handshake is socket.handshake as Node's JSON.stringify writes it
	// (headers, time, address, xdomain, secure, issued, url, query,
	// auth).
	Handshake JSONValue `msgpack:"handshake" json:"handshake"`
	Rooms     []string  `msgpack:"rooms" json:"rooms"`
	// Data is socket.data; nil when it is undefined.
	Data JSONValue `msgpack:"data,omitempty" json:"data,omitempty"`
}

type wireResponse struct {
	Type        int         `msgpack:"type,omitempty" json:"type,omitempty"`
	RequestID   *string     `msgpack:"requestId" json:"requestId"`
	Sockets     *socketList `msgpack:"sockets,omitempty" json:"sockets,omitempty"`
	Rooms       *[]string   `msgpack:"rooms,omitempty" json:"rooms,omitempty"`
	Data        JSONValue   `msgpack:"data,omitempty" json:"data,omitempty"`
	ClientCount *int        `msgpack:"clientCount,omitempty" json:"clientCount,omitempty"`
	Packet      Value       `msgpack:"packet,omitempty" json:"packet,omitempty"`
}

// socketList is the "sockets" field: ids (SOCKETS) or objects
// (REMOTE_FETCH).
type socketList struct {
	ids     []string
	fetched []SocketInfo
}

func (l *socketList) MarshalJSON() ([]byte, error) {
	if l.fetched != nil {
		return marshalJSON(l.fetched)
	}
	return marshalJSON(nonNil(l.ids))
}

func (l *socketList) EncodeMsgpack(enc *msgpack.Encoder) error {
	if l.fetched != nil {
		return enc.Encode(l.fetched)
	}
	return enc.Encode(nonNil(l.ids))
}

func (l *socketList) set(n int, isID func(i int) bool, decodeID func(i int) error, decodeInfo func(i int) error) error {
	l.ids, l.fetched = []string{}, []SocketInfo{}
	if n == 0 {
		return nil
	}
	if isID(0) {
		l.ids = make([]string, n)
		l.fetched = nil
	} else {
		l.fetched = make([]SocketInfo, n)
		l.ids = nil
	}
	for i := 0; i < n; i++ {
		if isID(i) != (l.ids != nil) {
			return malformed("sockets mixes ids and objects")
		}
		var err error
		if l.ids != nil {
			err = decodeID(i)
		} else {
			err = decodeInfo(i)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (l *socketList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	return l.set(len(raw),
		func(i int) bool { return len(raw[i]) > 0 && raw[i][0] == '"' },
		func(i int) error { return json.Unmarshal(raw[i], &l.ids[i]) },
		func(i int) error { return json.Unmarshal(raw[i], &l.fetched[i]) })
}

func (l *socketList) DecodeMsgpack(dec *msgpack.Decoder) error {
	var raw []msgpack.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	return l.set(len(raw),
		func(i int) bool { it, _ := mpHeader(raw[i]); return it.kind == 's' },
		func(i int) error { return msgpack.Unmarshal(raw[i], &l.ids[i]) },
		func(i int) error { return msgpack.Unmarshal(raw[i], &l.fetched[i]) })
}

// Encode returns the response as Node sends it: msgpack for
// BROADCAST_ACK, JSON with Node's key order for the others.
func (r Response) Encode() ([]byte, error) {
	if r.RequestID == "" {
		return nil, fmt.Errorf("redisadapter: a response needs the RequestID of its request")
	}
	w := wireResponse{RequestID: &r.RequestID}
	switch r.Type {
	case 0:
		if r.FetchedSockets != nil || r.Sockets != nil {
			w.Sockets = &socketList{ids: r.Sockets, fetched: r.FetchedSockets}
		}
		if r.Rooms != nil {
			w.Rooms = &r.Rooms
		}
	case RequestServerSideEmit:
		// No Data: the ack had no argument, and Node's JSON.stringify
		// drops the undefined field.
		w.Type, w.Data = int(r.Type), r.Data
	case ResponseBroadcastClientCount:
		w.Type, w.ClientCount = int(r.Type), &r.ClientCount
	case ResponseBroadcastAck:
		if r.Packet != nil {
			if err := checkMsgpack(r.Packet); err != nil {
				return nil, err
			}
		}
		w.Type, w.Packet = int(r.Type), r.Packet
		return encodeMsgpack(&w)
	default:
		return nil, fmt.Errorf("redisadapter: %v is not a response type (want 0, 6, 8 or 9)", r.Type)
	}
	b, err := marshalJSON(&w)
	if err != nil {
		return nil, fmt.Errorf("redisadapter: encode: %w", err)
	}
	return b, nil
}

// DecodeResponse decodes a message read from a response channel, JSON or
// msgpack. Nothing in b can make it panic.
func DecodeResponse(b []byte) (Response, error) {
	var w wireResponse
	if err := decodeEither(b, &w); err != nil {
		return Response{}, err
	}
	if w.RequestID == nil || *w.RequestID == "" {
		return Response{}, malformed("response without requestId")
	}
	r := Response{Type: RequestType(w.Type), RequestID: *w.RequestID}
	switch r.Type {
	case 0:
		if w.Sockets != nil {
			r.Sockets, r.FetchedSockets = w.Sockets.ids, w.Sockets.fetched
		}
		if w.Rooms != nil {
			r.Rooms = *w.Rooms
			if r.Rooms == nil {
				r.Rooms = []string{}
			}
		}
	case RequestServerSideEmit:
		r.Data = w.Data
	case ResponseBroadcastClientCount:
		if w.ClientCount == nil || *w.ClientCount < 0 {
			return Response{}, malformed("BROADCAST_CLIENT_COUNT without a clientCount ≥ 0")
		}
		r.ClientCount = *w.ClientCount
	case ResponseBroadcastAck:
		r.Packet = w.Packet
	default:
		return Response{}, malformed("response type %d (want none, 6, 8 or 9)", w.Type)
	}
	return r, nil
}

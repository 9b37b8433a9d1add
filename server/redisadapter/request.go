package redisadapter

import (
	"encoding/json"
	"errors"
	"fmt"
)

// RequestType is the type of a classic-adapter request or response
// (RequestType in @socket.io/redis-adapter lib/index.ts). The numbers are
// not those of the sharded and streams adapters (ClusterAdapter's
// MessageType: 7 is BROADCAST here and FETCH_SOCKETS there); the two
// protocols need separate codecs.
type RequestType int

// The request types; 8 and 9 are response types.
const (
	// RequestSockets (0) asks for the socket ids in rooms. Node 8 no
	// longer sends it but still answers it.
	RequestSockets RequestType = 0
	// RequestAllRooms (1) asks for every room (adapter.allRooms()).
	RequestAllRooms RequestType = 1
	// RequestRemoteJoin (2) is socketsJoin, or in its legacy form (Node
	// ≤ 7) one socket's join.
	RequestRemoteJoin RequestType = 2
	// RequestRemoteLeave (3) is socketsLeave, or its legacy form.
	RequestRemoteLeave RequestType = 3
	// RequestRemoteDisconnect (4) is disconnectSockets(close), or its
	// legacy form.
	RequestRemoteDisconnect RequestType = 4
	// RequestRemoteFetch (5) is fetchSockets.
	RequestRemoteFetch RequestType = 5
	// RequestServerSideEmit (6) is serverSideEmit, with an ack when it
	// has a request id. Its replies have type 6 too.
	RequestServerSideEmit RequestType = 6
	// RequestBroadcast (7) is a broadcast with acks (timeout().emit with
	// a callback). Node sends it as msgpack.
	RequestBroadcast RequestType = 7
	// ResponseBroadcastClientCount (8) tells how many local clients a
	// RequestBroadcast reached.
	ResponseBroadcastClientCount RequestType = 8
	// ResponseBroadcastAck (9) carries one client's ack of a
	// RequestBroadcast. Node sends it as msgpack.
	ResponseBroadcastAck RequestType = 9
)

func (t RequestType) String() string {
	switch t {
	case RequestSockets:
		return "SOCKETS"
	case RequestAllRooms:
		return "ALL_ROOMS"
	case RequestRemoteJoin:
		return "REMOTE_JOIN"
	case RequestRemoteLeave:
		return "REMOTE_LEAVE"
	case RequestRemoteDisconnect:
		return "REMOTE_DISCONNECT"
	case RequestRemoteFetch:
		return "REMOTE_FETCH"
	case RequestServerSideEmit:
		return "SERVER_SIDE_EMIT"
	case RequestBroadcast:
		return "BROADCAST"
	case ResponseBroadcastClientCount:
		return "BROADCAST_CLIENT_COUNT"
	case ResponseBroadcastAck:
		return "BROADCAST_ACK"
	}
	return fmt.Sprintf("RequestType(%d)", int(t))
}

// ErrUnknownRequestType is wrapped by the error for a request whose type is
// not one of the request types.
var ErrUnknownRequestType = errors.New("unknown request type")

// Request is a message on the request channel ({key}-request#{nsp}#). Which
// fields are used depends on Type:
//
//	SOCKETS            RequestID, Rooms
//	ALL_ROOMS          RequestID
//	REMOTE_JOIN/LEAVE  Opts (rooms, except), Rooms: the rooms to join or leave
//	REMOTE_DISCONNECT  Opts (rooms, except), Close
//	REMOTE_FETCH       RequestID, Opts (rooms, except)
//	SERVER_SIDE_EMIT   Data; RequestID when an ack is wanted
//	BROADCAST          RequestID, Packet, Opts (rooms, except, flags)
//
// With Legacy set, REMOTE_JOIN/LEAVE/DISCONNECT are the per-socket form of
// Node ≤ 7 ({requestId, sid, room} or {requestId, sid, close}), which Node 8
// still answers with {requestId}.
type Request struct {
	Type RequestType
	// UID is the requesting server's uid; "" when absent (the emitter
	// sends none) or "emitter".
	UID       string
	RequestID string
	Opts      BroadcastOptions
	Rooms     []string
	Close     bool
	// Data is [event, ...args] of SERVER_SIDE_EMIT.
	Data   JSONValue
	Packet Packet
	Legacy bool
	SID    string
	Room   string
}

// wireRequest lists the fields in the order Node writes them.
type wireRequest struct {
	UID       string      `msgpack:"uid,omitempty" json:"uid,omitempty"`
	RequestID string      `msgpack:"requestId,omitempty" json:"requestId,omitempty"`
	Type      *int        `msgpack:"type" json:"type"`
	SID       *string     `msgpack:"sid,omitempty" json:"sid,omitempty"`
	Room      *string     `msgpack:"room,omitempty" json:"room,omitempty"`
	Packet    *wirePacket `msgpack:"packet,omitempty" json:"packet,omitempty"`
	Opts      *wireOpts   `msgpack:"opts,omitempty" json:"opts,omitempty"`
	Rooms     *[]string   `msgpack:"rooms,omitempty" json:"rooms,omitempty"`
	Close     *bool       `msgpack:"close,omitempty" json:"close,omitempty"`
	Data      JSONValue   `msgpack:"data,omitempty" json:"data,omitempty"`
}

func nonNil(s []string) *[]string {
	if s == nil {
		s = []string{}
	}
	return &s
}

// Encode returns the request as Node sends it: msgpack for BROADCAST, JSON
// with Node's key order for the others.
func (r Request) Encode() ([]byte, error) {
	t := int(r.Type)
	w := wireRequest{UID: r.UID, Type: &t}
	needID := func() error {
		if r.RequestID == "" {
			return fmt.Errorf("redisadapter: a %v request needs a RequestID", r.Type)
		}
		w.RequestID = r.RequestID
		return nil
	}
	switch r.Type {
	case RequestSockets:
		if err := needID(); err != nil {
			return nil, err
		}
		w.Rooms = nonNil(r.Rooms)
	case RequestAllRooms, RequestRemoteFetch:
		if err := needID(); err != nil {
			return nil, err
		}
		if r.Type == RequestRemoteFetch {
			w.Opts = r.Opts.wire(false)
		}
	case RequestRemoteJoin, RequestRemoteLeave, RequestRemoteDisconnect:
		if r.Legacy {
			if err := needID(); err != nil {
				return nil, err
			}
			w.SID = &r.SID
			if r.Type == RequestRemoteDisconnect {
				w.Close = &r.Close
			} else {
				w.Room = &r.Room
			}
			break
		}
		w.Opts = r.Opts.wire(false)
		if r.Type == RequestRemoteDisconnect {
			w.Close = &r.Close
		} else {
			w.Rooms = nonNil(r.Rooms)
		}
	case RequestServerSideEmit:
		w.RequestID = r.RequestID
		if err := checkJSONEvent(r.Data); err != nil {
			return nil, err
		}
		w.Data = r.Data
	case RequestBroadcast:
		if err := needID(); err != nil {
			return nil, err
		}
		p, err := r.Packet.wire()
		if err != nil {
			return nil, err
		}
		w.Packet, w.Opts = p, r.Opts.wire(true)
		return encodeMsgpack(&w)
	default:
		return nil, fmt.Errorf("redisadapter: encode: %w %d", ErrUnknownRequestType, t)
	}
	b, err := marshalJSON(&w)
	if err != nil {
		return nil, fmt.Errorf("redisadapter: encode: %w", err)
	}
	return b, nil
}

// checkJSONEvent checks that d is a JSON array whose first element is a
// string.
func checkJSONEvent(d JSONValue) error {
	var v []json.RawMessage
	if d == nil || json.Unmarshal(d, &v) != nil || len(v) == 0 {
		return malformed("data is not [event, ...args]")
	}
	var ev string
	if json.Unmarshal(v[0], &ev) != nil {
		return malformed("event name is not a string")
	}
	return nil
}

// decodeEither decodes b as JSON when it starts with '{', as Node's
// receivers do, and as msgpack otherwise.
func decodeEither(b []byte, v any) error {
	if len(b) == 0 {
		return malformed("empty message")
	}
	if b[0] == '{' {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("%w: JSON: %v", ErrMalformed, err)
		}
		return nil
	}
	if err := checkMsgpack(b); err != nil {
		return err
	}
	if it, _ := mpHeader(b); it.kind != 'm' {
		return malformed("a request or response is a map")
	}
	return decodeMsgpack(b, v)
}

// DecodeRequest decodes a message read from the request channel, JSON or
// msgpack. A message that lacks what its type needs, or whose type is
// unknown (the error wraps ErrUnknownRequestType), is an error; nothing in
// b can make it panic.
func DecodeRequest(b []byte) (Request, error) {
	var w wireRequest
	if err := decodeEither(b, &w); err != nil {
		return Request{}, err
	}
	if w.Type == nil {
		return Request{}, malformed("request type is missing")
	}
	r := Request{Type: RequestType(*w.Type), UID: w.UID, RequestID: w.RequestID}
	needID := func() error {
		if r.RequestID == "" {
			return malformed("%v request without requestId", r.Type)
		}
		return nil
	}
	var err error
	switch r.Type {
	case RequestSockets:
		err = needID()
		if w.Rooms != nil && len(*w.Rooms) > 0 {
			r.Rooms = *w.Rooms
		}
	case RequestAllRooms:
		err = needID()
	case RequestRemoteFetch:
		if err = needID(); err == nil {
			r.Opts, err = w.Opts.opts()
			r.Opts.Flags = Flags{}
		}
	case RequestRemoteJoin, RequestRemoteLeave, RequestRemoteDisconnect:
		if w.Opts == nil && w.SID != nil {
			r.Legacy, r.SID = true, *w.SID
			if err = needID(); err != nil {
				break
			}
			if r.Type == RequestRemoteDisconnect {
				r.Close = w.Close != nil && *w.Close
			} else if w.Room == nil {
				err = malformed("%v request without room", r.Type)
			} else {
				r.Room = *w.Room
			}
			break
		}
		if r.Opts, err = w.Opts.opts(); err != nil {
			break
		}
		r.Opts.Flags = Flags{}
		if r.Type == RequestRemoteDisconnect {
			r.Close = w.Close != nil && *w.Close
		} else if w.Rooms == nil {
			err = malformed("%v request without rooms", r.Type)
		} else if len(*w.Rooms) > 0 {
			r.Rooms = *w.Rooms
		}
	case RequestServerSideEmit:
		if err = checkJSONEvent(w.Data); err == nil {
			r.Data = w.Data
		}
	case RequestBroadcast:
		if err = needID(); err != nil {
			break
		}
		if r.Packet, err = w.Packet.packet(); err != nil {
			break
		}
		r.Opts, err = w.Opts.opts()
	default:
		return Request{}, fmt.Errorf("%w: %w %d", ErrMalformed, ErrUnknownRequestType, *w.Type)
	}
	if err != nil {
		return Request{}, err
	}
	return r, nil
}

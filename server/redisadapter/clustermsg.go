package redisadapter

import "fmt"

// MessageType is the type of a message of socket.io-adapter's ClusterAdapter
// protocol (MessageType in lib/cluster-adapter.ts), which the sharded
// adapter (createShardedAdapter) and the streams adapter speak. Its numbers
// are not the classic adapter's RequestType.
type MessageType int

// The ClusterAdapter message types.
const (
	// MessageInitialHeartbeat (1) is sent once by a heartbeat-variant
	// adapter when it starts; every other server answers with a
	// MessageHeartbeat.
	MessageInitialHeartbeat MessageType = 1
	// MessageHeartbeat (2) says that a server is alive.
	MessageHeartbeat MessageType = 2
	// MessageBroadcast (3) is a broadcast; with a RequestID, one with
	// acks.
	MessageBroadcast MessageType = 3
	// MessageSocketsJoin (4) is socketsJoin.
	MessageSocketsJoin MessageType = 4
	// MessageSocketsLeave (5) is socketsLeave.
	MessageSocketsLeave MessageType = 5
	// MessageDisconnectSockets (6) is disconnectSockets(close).
	MessageDisconnectSockets MessageType = 6
	// MessageFetchSockets (7) is fetchSockets.
	MessageFetchSockets MessageType = 7
	// MessageFetchSocketsResponse (8) answers MessageFetchSockets.
	MessageFetchSocketsResponse MessageType = 8
	// MessageServerSideEmit (9) is serverSideEmit; with a RequestID, with
	// an ack.
	MessageServerSideEmit MessageType = 9
	// MessageServerSideEmitResponse (10) is one server's ack of a
	// MessageServerSideEmit.
	MessageServerSideEmitResponse MessageType = 10
	// MessageBroadcastClientCount (11) tells how many local clients a
	// broadcast with acks reached.
	MessageBroadcastClientCount MessageType = 11
	// MessageBroadcastAck (12) carries one client's ack of a broadcast.
	MessageBroadcastAck MessageType = 12
	// MessageAdapterClose (13) says that a heartbeat-variant adapter
	// closed.
	MessageAdapterClose MessageType = 13
)

func (t MessageType) String() string {
	names := [...]string{"", "INITIAL_HEARTBEAT", "HEARTBEAT", "BROADCAST", "SOCKETS_JOIN", "SOCKETS_LEAVE",
		"DISCONNECT_SOCKETS", "FETCH_SOCKETS", "FETCH_SOCKETS_RESPONSE", "SERVER_SIDE_EMIT",
		"SERVER_SIDE_EMIT_RESPONSE", "BROADCAST_CLIENT_COUNT", "BROADCAST_ACK", "ADAPTER_CLOSE"}
	if t > 0 && int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("MessageType(%d)", int(t))
}

// isResponse reports whether t answers a request: Node handles these as
// responses whatever channel they came on.
func (t MessageType) isResponse() bool {
	switch t {
	case MessageFetchSocketsResponse, MessageServerSideEmitResponse, MessageBroadcastClientCount, MessageBroadcastAck:
		return true
	}
	return false
}

// ClusterMessage is one message of the ClusterAdapter protocol:
// {uid, nsp, type, data}. Which fields of data a type uses:
//
//	BROADCAST                  Packet ([event, ...args]), Opts; RequestID with acks
//	SOCKETS_JOIN, SOCKETS_LEAVE Opts, Rooms
//	DISCONNECT_SOCKETS         Opts, Close
//	FETCH_SOCKETS              Opts, RequestID
//	FETCH_SOCKETS_RESPONSE     RequestID, Sockets
//	SERVER_SIDE_EMIT           Packet ([event, ...args]); RequestID with an ack
//	SERVER_SIDE_EMIT_RESPONSE  RequestID, Packet (the first ack argument; nil: none)
//	BROADCAST_CLIENT_COUNT     RequestID, ClientCount
//	BROADCAST_ACK              RequestID, Packet (the first ack argument; nil: none)
//
// The heartbeat types carry no data.
type ClusterMessage struct {
	// UID is the sending server's uid (16 hex characters from Node),
	// "emitter" from a streams emitter.
	UID  string
	Nsp  string
	Type MessageType

	RequestID   string
	Packet      Value
	Opts        BroadcastOptions
	Rooms       []string
	Close       bool
	Sockets     []SocketInfo
	ClientCount int
}

type wireCluster struct {
	Type *int             `msgpack:"type" json:"type"`
	Data *wireClusterData `msgpack:"data,omitempty" json:"data,omitempty"`
	UID  *string          `msgpack:"uid" json:"uid"`
	Nsp  *string          `msgpack:"nsp" json:"nsp"`
}

// wireClusterData holds every field any type puts in data, in the order
// Node writes them.
type wireClusterData struct {
	// Packet is {type, data} for BROADCAST, [event, ...args] for
	// SERVER_SIDE_EMIT and any value for the ack responses.
	Packet    Value         `msgpack:"packet,omitempty" json:"packet,omitempty"`
	Opts      *wireOpts     `msgpack:"opts,omitempty" json:"opts,omitempty"`
	Rooms     *[]string     `msgpack:"rooms,omitempty" json:"rooms,omitempty"`
	Close     *bool         `msgpack:"close,omitempty" json:"close,omitempty"`
	RequestID *string       `msgpack:"requestId,omitempty" json:"requestId,omitempty"`
	Sockets   *[]SocketInfo `msgpack:"sockets,omitempty" json:"sockets,omitempty"` // a pointer: [] is written, Node reads it

	ClientCount *int `msgpack:"clientCount,omitempty" json:"clientCount,omitempty"`
}

// broadcastPacket is BROADCAST's data.packet: the Socket.IO packet without
// its namespace. Node always sends type 2, binary included.
type broadcastPacket struct {
	Type *int  `msgpack:"type" json:"type"`
	Data Value `msgpack:"data" json:"data"`
}

// data returns the wire form of m's data; nil for the heartbeat types.
func (m ClusterMessage) data() (*wireClusterData, error) {
	d := &wireClusterData{}
	needID := func() error {
		if m.RequestID == "" {
			return fmt.Errorf("redisadapter: %v needs a RequestID", m.Type)
		}
		id := m.RequestID
		d.RequestID = &id
		return nil
	}
	switch m.Type {
	case MessageInitialHeartbeat, MessageHeartbeat, MessageAdapterClose:
		return nil, nil
	case MessageBroadcast:
		if err := checkEventData(m.Packet); err != nil {
			return nil, err
		}
		t := eventType
		p, err := encodeMsgpack(&broadcastPacket{Type: &t, Data: m.Packet})
		if err != nil {
			return nil, err
		}
		d.Packet = p
		d.Opts = m.Opts.wire(true)
		if m.RequestID != "" {
			_ = needID()
		}
	case MessageSocketsJoin, MessageSocketsLeave:
		d.Opts = m.Opts.wire(true)
		d.Rooms = nonNil(m.Rooms)
	case MessageDisconnectSockets:
		d.Opts = m.Opts.wire(true)
		c := m.Close
		d.Close = &c
	case MessageFetchSockets:
		d.Opts = m.Opts.wire(true)
		if err := needID(); err != nil {
			return nil, err
		}
	case MessageFetchSocketsResponse:
		if err := needID(); err != nil {
			return nil, err
		}
		socks := m.Sockets
		if socks == nil {
			socks = []SocketInfo{}
		}
		d.Sockets = &socks
	case MessageServerSideEmit:
		if err := checkEventData(m.Packet); err != nil {
			return nil, err
		}
		d.Packet = m.Packet
		if m.RequestID != "" {
			_ = needID()
		}
	case MessageServerSideEmitResponse, MessageBroadcastAck:
		if err := needID(); err != nil {
			return nil, err
		}
		d.Packet = m.Packet
	case MessageBroadcastClientCount:
		if err := needID(); err != nil {
			return nil, err
		}
		n := m.ClientCount
		d.ClientCount = &n
	default:
		return nil, fmt.Errorf("redisadapter: unknown message type %v", m.Type)
	}
	return d, nil
}

func (m ClusterMessage) wire() (*wireCluster, error) {
	d, err := m.data()
	if err != nil {
		return nil, err
	}
	t, uid, nsp := int(m.Type), m.UID, m.Nsp
	if nsp == "" {
		nsp = "/"
	}
	return &wireCluster{Type: &t, Data: d, UID: &uid, Nsp: &nsp}, nil
}

// EncodeMsgpack returns the whole message as msgpack, as the sharded
// adapter sends a message with binary and the streams adapter every
// message over pub/sub. Every receiver reads it.
func (m ClusterMessage) EncodeMsgpack() ([]byte, error) {
	w, err := m.wire()
	if err != nil {
		return nil, err
	}
	return encodeMsgpack(w)
}

// EncodeJSON returns the message as JSON, as the sharded adapter sends a
// message without binary; binary values become {"type":"Buffer",...}.
func (m ClusterMessage) EncodeJSON() ([]byte, error) {
	w, err := m.wire()
	if err != nil {
		return nil, err
	}
	return marshalJSON(w)
}

// DecodeClusterMessage decodes a message of the sharded adapter's channels
// or of the streams adapter's pub/sub: JSON when it starts with '{', msgpack
// otherwise. A message that lacks what its type needs is an error wrapping
// ErrMalformed; nothing in b can make it panic.
func DecodeClusterMessage(b []byte) (ClusterMessage, error) {
	var w wireCluster
	if err := decodeEither(b, &w); err != nil {
		return ClusterMessage{}, err
	}
	if w.Type == nil {
		return ClusterMessage{}, malformed("message type is missing")
	}
	if w.UID == nil {
		return ClusterMessage{}, malformed("message uid is missing")
	}
	m := ClusterMessage{Type: MessageType(*w.Type), UID: *w.UID, Nsp: "/"}
	if w.Nsp != nil {
		m.Nsp = *w.Nsp
	}
	if err := m.setData(w.Data); err != nil {
		return ClusterMessage{}, err
	}
	return m, nil
}

// setData reads data into m according to m.Type.
func (m *ClusterMessage) setData(d *wireClusterData) error {
	switch m.Type {
	case MessageInitialHeartbeat, MessageHeartbeat, MessageAdapterClose:
		return nil
	}
	if m.Type < MessageInitialHeartbeat || m.Type > MessageAdapterClose {
		return malformed("unknown message type %d", int(m.Type))
	}
	if d == nil {
		return malformed("%v without data", m.Type)
	}
	if d.RequestID != nil {
		m.RequestID = *d.RequestID
	}
	needID := func() error {
		if m.RequestID == "" {
			return malformed("%v without requestId", m.Type)
		}
		return nil
	}
	opts := func() error {
		o, err := d.Opts.opts()
		m.Opts = o
		return err
	}
	switch m.Type {
	case MessageBroadcast:
		if d.Packet == nil {
			return malformed("BROADCAST without packet")
		}
		var p broadcastPacket
		if err := decodeMsgpack(d.Packet, &p); err != nil {
			return err
		}
		if p.Type == nil || *p.Type != eventType && *p.Type != 5 {
			return malformed("BROADCAST packet is not an EVENT")
		}
		if err := checkEventData(p.Data); err != nil {
			return err
		}
		m.Packet = p.Data
		return opts()
	case MessageSocketsJoin, MessageSocketsLeave:
		if d.Rooms == nil {
			return malformed("%v without rooms", m.Type)
		}
		m.Rooms = *d.Rooms
		return opts()
	case MessageDisconnectSockets:
		m.Close = d.Close != nil && *d.Close
		return opts()
	case MessageFetchSockets:
		if err := needID(); err != nil {
			return err
		}
		return opts()
	case MessageFetchSocketsResponse:
		if d.Sockets == nil {
			return malformed("FETCH_SOCKETS_RESPONSE without sockets")
		}
		m.Sockets = *d.Sockets
		return needID()
	case MessageServerSideEmit:
		if err := checkEventData(d.Packet); err != nil {
			return err
		}
		m.Packet = d.Packet
		return nil
	case MessageServerSideEmitResponse, MessageBroadcastAck:
		m.Packet = d.Packet
		return needID()
	case MessageBroadcastClientCount:
		if d.ClientCount == nil || *d.ClientCount < 0 {
			return malformed("BROADCAST_CLIENT_COUNT without a clientCount")
		}
		m.ClientCount = *d.ClientCount
		return needID()
	}
	return nil
}

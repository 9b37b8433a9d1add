// Package wire is the protocol that tsunagi's server and client speak:
// Engine.IO v4 packets over WebSocket messages, and Socket.IO v5 packets
// inside Engine.IO message packets. It decodes, checks and encodes them. It
// does no I/O, starts no goroutines and imports the standard library and
// tsunagi's own JSON codec only, so that it builds for the native server
// and for the js/wasm client. A user's events package does not need it:
// that imports package shared.
//
// An Engine.IO packet is one WebSocket text message: its type, one digit
// (EIOType), then its data. DecodeEIO splits it:
//
//	0{"sid":"…","upgrades":[],"pingInterval":25000,…}   open (OpenPacket)
//	2  3                                                ping, pong
//	42["news",{"hello":"world"}]                        message: a Socket.IO packet
//
// A Socket.IO packet is the data of a message packet:
//
//	<type>[<attachments>-][<nsp>,][<ack id>][JSON]
//
// type is one digit (PacketType); a BINARY_EVENT or BINARY_ACK gives the
// number of binary attachments, which follow as binary WebSocket messages
// and stand in the JSON as {"_placeholder":true,"num":n}; the namespace is
// omitted for "/"; the ack id (at most MaxAckID) asks for an ACK; the JSON
// payload's shape depends on the type (an array for EVENT and ACK, whose
// first element is an EVENT's name). For example:
//
//	0/admin,{"token":"123"}                             CONNECT to /admin with auth
//	2/admin,456["project:delete",123]                   EVENT with ack id 456
//	3/admin,456[]                                       its ACK
//	51-["up",{"_placeholder":true,"num":0}]             BINARY_EVENT, then one binary message
//
// DecodePacket parses one; a Decoder joins a binary packet to its
// attachments; Packet.AppendEncode and Packet.Message write one, and
// NewEventPacket and NewAckPacket build them from Go values. Errors in the
// input are *ParseError values.
//
// The specifications are the READMEs of github.com/socketio/engine.io-protocol
// and github.com/socketio/socket.io-protocol.
package wire

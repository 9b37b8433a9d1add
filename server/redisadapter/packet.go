package redisadapter

import (
	"bytes"
	"encoding/json"
)

// PacketValue converts the payload of a tsunagi packet (wire.Packet's Data:
// JSON with {"_placeholder":true,"num":n} for each binary attachment, and
// its Buffers) to the msgpack Value that Node's adapters carry, where
// binary is inline msgpack bin (a Node Buffer). Key order is kept, and
// integral numbers become msgpack integers, as notepack.io writes them.
func PacketValue(data json.RawMessage, bufs [][]byte) (Value, error) {
	var buf bytes.Buffer
	if bufs == nil {
		bufs = [][]byte{}
	}
	if err := jsonToMsgpackBin(newEncoder(&buf), data, bufs); err != nil {
		return nil, err
	}
	return Value(buf.Bytes()), nil
}

// PacketData converts v back to a tsunagi payload: JSON with a placeholder
// for each bin, whose bytes are returned as the attachments, in order. A
// timestamp becomes its Date.toJSON string, and NaN and ±Infinity null, as
// socket.io-parser would send them to a client. v must be one checked
// value (what the decoders of this package return).
func (v Value) PacketData() (json.RawMessage, [][]byte, error) {
	if err := checkMsgpack(v); err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	var bufs [][]byte
	if _, err := mpToJSON(&buf, v, &bufs); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), bufs, nil
}

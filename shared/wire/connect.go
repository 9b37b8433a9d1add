package wire

import (
	"encoding/json"
	"errors"

	"github.com/tsunagi/tsunagi/internal/jsoncodec"
)

// DecodeConnect parses the payload of the server's CONNECT reply:
// {"sid": …} and, with connection state recovery, "pid".
func DecodeConnect(data []byte) (sid, pid string, err error) {
	v, err := jsoncodec.DecodeAny(data, false)
	m, _ := v.(map[string]any)
	sid, _ = m["sid"].(string)
	pid, _ = m["pid"].(string)
	if err != nil || sid == "" {
		return "", "", parseErr("invalid CONNECT reply %.100s", data)
	}
	return sid, pid, nil
}

// DecodeConnectError parses a CONNECT_ERROR payload: {"message": …,
// "data": …}, or a bare string from older servers. A payload of another
// shape is the message itself.
func DecodeConnectError(data []byte) (message string, extra json.RawMessage) {
	v, err := jsoncodec.DecodeAny(data, true)
	switch t := v.(type) {
	case string:
		return t, nil
	case map[string]any:
		msg, ok := t["message"].(string)
		if !ok && t["message"] != nil {
			break
		}
		if d := t["data"]; d != nil {
			extra, _ = jsoncodec.Marshal(d) // numbers are json.Numbers: written as they came
		}
		return msg, extra
	case nil:
		if err == nil {
			return "", nil
		}
	}
	return string(data), nil
}

// ConnectPayload is the data of a client's CONNECT: the auth object and,
// when the client has a session to recover (connection state recovery),
// its private id and the offset of the last event it received.
func ConnectPayload(auth any, pid, offset string) ([]byte, error) {
	if pid == "" {
		if auth == nil {
			return nil, nil
		}
		return jsoncodec.Marshal(auth)
	}
	m := map[string]any{}
	if auth != nil {
		b, err := jsoncodec.Marshal(auth)
		if err != nil {
			return nil, err
		}
		v, err := jsoncodec.DecodeAny(b, true)
		if t, ok := v.(map[string]any); ok {
			m = t
		} else if err != nil || v != nil {
			return nil, errors.New("tsunagi: auth must be a JSON object")
		}
	}
	m["pid"] = pid
	if offset != "" {
		m["offset"] = offset
	}
	return jsoncodec.Marshal(m)
}

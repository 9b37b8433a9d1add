package redisadapter

// DefaultKey is the channel prefix of @socket.io/redis-adapter (its key
// option).
const DefaultKey = "socket.io"

// Channels are the Redis pub/sub channel names of one namespace of the
// classic adapter, for one server. They are built the way
// @socket.io/redis-adapter 8.3 builds them; nothing is escaped, so a
// namespace holding '#' or a glob character ('*', '?', '[') still needs the
// packet's nsp checked after a message arrives.
type Channels struct {
	// Broadcast carries broadcasts to no room or to two or more rooms:
	// "{key}#{nsp}#".
	Broadcast string
	// Pattern is what a server PSUBSCRIBEs to receive every broadcast of
	// the namespace: "{key}#{nsp}#*".
	Pattern string
	// Request carries every request, broadcasts with acks included:
	// "{key}-request#{nsp}#". Its PUBSUB NUMSUB is the server count.
	Request string
	// Response is the shared response channel: "{key}-response#{nsp}#".
	Response string
	// SpecificResponse is where peers that publish on the specific response
	// channel answer this server's requests: "{key}-response#{nsp}#{uid}#".
	SpecificResponse string
}

// NewChannels returns the channels of namespace nsp ("/", "/admin") under
// key (DefaultKey when empty) for the server whose uid is uid.
func NewChannels(key, nsp, uid string) Channels {
	if key == "" {
		key = DefaultKey
	}
	b := key + "#" + nsp + "#"
	return Channels{
		Broadcast:        b,
		Pattern:          b + "*",
		Request:          key + "-request#" + nsp + "#",
		Response:         key + "-response#" + nsp + "#",
		SpecificResponse: SpecificResponseChannel(key, nsp, uid),
	}
}

// Room returns the channel of a broadcast to exactly one room:
// "{key}#{nsp}#{room}#".
func (c Channels) Room(room string) string {
	return c.Broadcast + room + "#"
}

// BroadcastChannel returns where a broadcast to rooms is published: the
// room's channel for exactly one room, the namespace's otherwise.
func (c Channels) BroadcastChannel(rooms []string) string {
	if len(rooms) == 1 {
		return c.Room(rooms[0])
	}
	return c.Broadcast
}

// RoomOf returns the room named by channel, a channel matched by Pattern,
// and true when it is a room channel ("{key}#{nsp}#{room}#" with a room that
// is not empty). Node drops a room-channel message for a room that has no
// local socket before decoding it, and handles any other channel matched by
// the pattern as the namespace's broadcast channel.
func (c Channels) RoomOf(channel string) (string, bool) {
	if len(channel) <= len(c.Broadcast)+1 || channel[:len(c.Broadcast)] != c.Broadcast || channel[len(channel)-1] != '#' {
		return "", false
	}
	return channel[len(c.Broadcast) : len(channel)-1], true
}

// SpecificResponseChannel returns the channel on which a responder answers
// the server with uid requesterUID when it publishes on the specific
// response channel: "{key}-response#{nsp}#{requesterUID}#".
func SpecificResponseChannel(key, nsp, requesterUID string) string {
	if key == "" {
		key = DefaultKey
	}
	return key + "-response#" + nsp + "#" + requesterUID + "#"
}

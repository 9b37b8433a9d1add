package jsoncodec

import "testing"

// A chat message, as events carry them: strings, a number, a list and a
// map. (No any and no []byte in it: with -tags tsunagi_stdjson, the Encoder
// writes a value that may hold a []byte with its own code.)
type benchMessage struct {
	User string            `json:"user"`
	Text string            `json:"text"`
	Time int64             `json:"time"`
	Tags []string          `json:"tags,omitempty"`
	Meta map[string]string `json:"meta"`
}

var (
	benchValue = benchMessage{User: "ada", Text: "hello, <world> ✓", Time: 1733097600000,
		Tags: []string{"greeting", "en"}, Meta: map[string]string{"room": "lobby", "lang": "en"}}
	benchJSON = []byte(`{"user":"ada","text":"hello, \u003cworld\u003e ✓","time":1733097600000,` +
		`"tags":["greeting","en"],"meta":{"lang":"en","room":"lobby"}}`)
)

func BenchmarkMarshal(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(benchValue); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var m benchMessage
		if err := Unmarshal(benchJSON, &m); err != nil || m.User != "ada" {
			b.Fatal(m, err)
		}
	}
}

func BenchmarkDecodeAny(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeAny(benchJSON, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendArgs encodes an event's arguments as both ends do, into
// a reused buffer.
func BenchmarkAppendArgs(b *testing.B) {
	var e Encoder
	args := []any{benchValue}
	b.ReportAllocs()
	for b.Loop() {
		e.Buf, e.Buffers = e.Buf[:0], e.Buffers[:0]
		if err := e.AppendArgs("chat", args); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchValues(t *testing.T) {
	got, err := Marshal(benchValue)
	if err != nil || string(got) != string(benchJSON) {
		t.Fatalf("Marshal = %s, %v\nwant %s", got, err, benchJSON)
	}
}

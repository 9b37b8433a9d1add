// Package jsoncodec is the JSON codec of packages shared and shared/wire:
// encoding/json's behaviour for everything events carry, in code of its
// own, so that client.wasm does not link encoding/json's encoder and
// decoder. It uses encoding/json's types (RawMessage, Number, Marshaler,
// Unmarshaler, the error types) but none of its code.
//
// Marshal, Unmarshal, DecodeAny (into an any, with or without json.Number)
// and Valid behave as their encoding/json counterparts; FuzzJSON,
// FuzzUnmarshal and TestMarshalMatchesEncodingJSON hold them to it (the
// same bytes when encoding; the same values and type errors when decoding).
// Encoder writes the arguments of an event or an ack, with []byte values
// as binary attachments; String reads a JSON string.
//
// # Against encoding/json
//
// Built with -tags tsunagi_stdjson, the same functions are encoding/json
// (std.go), except that the Encoder still writes a value whose type may
// hold a []byte (a field, an element, an interface) with its own walk:
// encoding/json has no hook to turn a []byte into an attachment. So the
// tag shows what the codec buys, and scripts/test runs the codec's, wire's
// and shared's tests with it too.
//
// client.wasm, built as scripts/bench builds it but without a build ID
// (brotli at -q 11 moves by up to 1.5 KB with the build ID alone, which
// changes with every edit, even of a comment), at the commit that wrote
// these figures:
//
//	GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w -buildid=" -o client.wasm ./cmd/clientwasm
//	GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w -buildid=" -tags tsunagi_stdjson -o std.wasm ./cmd/clientwasm
//	brotli -q 11 -c client.wasm | wc -c   # 1,204,602 (raw 5,697,817)
//	brotli -q 11 -c std.wasm | wc -c      # 1,296,872 (raw 6,252,700)
//
// The codec saves 92 KB of brotli, 7.1% of the encoding/json build, and
// 555 KB raw.
//
// Speed, on a shared 2-core AMD EPYC (medians of 3 runs; ns/op, B/op,
// allocs/op):
//
//	go test -run '^$' -bench . -count=3 ./internal/jsoncodec/ ./shared/
//	go test -run '^$' -bench . -count=3 -tags tsunagi_stdjson ./internal/jsoncodec/ ./shared/
//
//	                            own codec         encoding/json
//	BenchmarkMarshal            1459  752 13       723  368  7
//	BenchmarkUnmarshal          1984  640 20      2653  856 22
//	BenchmarkDecodeAny          1339 1008 31      2210 1184 33
//	BenchmarkAppendArgs          982  168  6       705  144  5
//	BenchmarkEncodeEvent         162   16  1       192   16  1   (shared)
//	BenchmarkDecodeEvent         429   21  2       955  240  6   (shared)
//	BenchmarkEncodeDecodeEvent   675   37  3      1294  256  7   (shared)
//
// Decoding is faster (an event, 2.2 times); encoding a struct with a map is
// slower than encoding/json's cached encoders (Marshal, AppendArgs), while
// a small event encodes in about the same time.
package jsoncodec

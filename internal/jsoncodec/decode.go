//go:build !tsunagi_stdjson

package jsoncodec

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// unmarshal is json.Unmarshal, or, with useNumber, a json.Decoder with
// UseNumber: the same values, the same *json.UnmarshalTypeError (Value,
// Type, Offset, Struct, Field) for the first mismatch while the rest is
// still decoded, an Unmarshaler's error ending it. FuzzJSON holds it to that.
func unmarshal(data []byte, v any, useNumber bool) error {
	if !validJSON(data) {
		return errSyntax
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &json.InvalidUnmarshalError{Type: reflect.TypeOf(v)}
	}
	d := decoder{data: data, useNumber: useNumber}
	if _, err := d.value(skipSpace(data, 0), rv); err != nil {
		return d.context(err)
	}
	return d.err
}

// decodeAny returns the valid JSON value data as encoding/json decodes it
// into an any: nil, bool, float64 (or json.Number), string, []any and
// map[string]any.
func decodeAny(data []byte, useNumber bool) (any, error) {
	if !validJSON(data) {
		return nil, errSyntax
	}
	d := decoder{data: data, useNumber: useNumber}
	v, _ := d.valueAny(skipSpace(data, 0))
	return v, d.err
}

// decoder walks JSON that validJSON accepted.
type decoder struct {
	data      []byte
	useNumber bool
	err       error        // the first mismatch, as encoding/json keeps it
	errStruct reflect.Type // where the decoder is, for errors: the struct …
	pathLen   int          // … and the field names leading there,
	path      [8]string    // kept here (without allocating) …
	pathMore  []string     // … and here beyond len(path)
}

func (d *decoder) push(name string) {
	if d.pathLen < len(d.path) {
		d.path[d.pathLen] = name
	} else {
		d.pathMore = append(d.pathMore[:d.pathLen-len(d.path)], name)
	}
	d.pathLen++
}

// context adds the struct and field path to a type error.
func (d *decoder) context(err error) error {
	if te, ok := err.(*json.UnmarshalTypeError); ok && (d.errStruct != nil || d.pathLen > 0) {
		te.Struct = d.errStruct.Name()
		path := append(d.path[:min(d.pathLen, len(d.path)):min(d.pathLen, len(d.path))], d.pathMore[:max(d.pathLen-len(d.path), 0)]...)
		if te.Field != "" {
			path = append(path, te.Field)
		}
		te.Field = ""
		for i, p := range path {
			if i > 0 {
				te.Field += "."
			}
			te.Field += p
		}
	}
	return err
}

func (d *decoder) save(err error) {
	if d.err == nil {
		d.err = d.context(err)
	}
}

func (d *decoder) typeError(what string, t reflect.Type, offset int) {
	d.save(&json.UnmarshalTypeError{Value: what, Type: t, Offset: int64(offset)})
}

// end returns the index after the value at i.
func (d *decoder) end(i int) int {
	return scanValue(d.data, i, 0)
}

// stringEnd returns the index of the closing quote of the string opening
// at i, and whether its contents need unquoting.
func (d *decoder) stringEnd(i int) (int, bool) {
	special := false
	for i++; d.data[i] != '"'; i++ {
		switch c := d.data[i]; {
		case c == '\\':
			special = true
			i++
		case c >= utf8.RuneSelf:
			special = true
		}
	}
	return i, special
}

// str returns the contents of the string at i, unquoted, and the index after it.
func (d *decoder) str(i int, buf []byte) ([]byte, int) {
	end, special := d.stringEnd(i)
	s := d.data[i+1 : end]
	if special {
		s = appendUnquoted(buf, s)
	}
	return s, end + 1
}

// value decodes the value at i into v (skipping it when v is not valid)
// and returns the index after it.
func (d *decoder) value(i int, v reflect.Value) (int, error) {
	if !v.IsValid() {
		return d.end(i), nil
	}
	switch d.data[i] {
	case '{':
		return d.object(i, v)
	case '[':
		return d.array(i, v)
	}
	end := d.end(i)
	return end, d.literal(d.data[i:end], v, false, end)
}

// indirect is encoding/json's: it walks down v, allocating nil pointers,
// to the value to decode into or to an Unmarshaler; for null it stops at
// the first pointer it can set.
func indirect(v reflect.Value, null bool) (json.Unmarshaler, encoding.TextUnmarshaler, reflect.Value) {
	v0 := v
	haveAddr := false
	if v.Kind() != reflect.Pointer && v.Type().Name() != "" && v.CanAddr() {
		haveAddr = true
		v = v.Addr()
	}
	for {
		if v.Kind() == reflect.Interface && !v.IsNil() {
			e := v.Elem()
			if e.Kind() == reflect.Pointer && !e.IsNil() && (!null || e.Elem().Kind() == reflect.Pointer) {
				haveAddr = false
				v = e
				continue
			}
		}
		if v.Kind() != reflect.Pointer || null && v.CanSet() {
			break
		}
		if v.Elem().Kind() == reflect.Interface && v.Elem().Elem().Equal(v) {
			v = v.Elem()
			break
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if v.Type().NumMethod() > 0 && v.CanInterface() {
			if u, ok := v.Interface().(json.Unmarshaler); ok {
				return u, nil, reflect.Value{}
			}
			if !null {
				if u, ok := v.Interface().(encoding.TextUnmarshaler); ok {
					return nil, u, reflect.Value{}
				}
			}
		}
		if haveAddr {
			v = v0
			haveAddr = false
		} else {
			v = v.Elem()
		}
	}
	return nil, nil, v
}

// composite handles what an array or an object at i does not decode into
// by kind: an Unmarshaler, a TextUnmarshaler, an empty interface, a type
// mismatch. done reports that it did.
func (d *decoder) composite(i int, v reflect.Value, what string, ok func(reflect.Kind) bool) (reflect.Value, int, bool, error) {
	u, ut, pv := indirect(v, false)
	switch {
	case u != nil:
		end := d.end(i)
		return pv, end, true, u.UnmarshalJSON(d.data[i:end])
	case ut != nil:
		d.typeError(what, v.Type(), i+1)
	case pv.Kind() == reflect.Interface && pv.NumMethod() == 0:
		x, end := d.valueAny(i)
		pv.Set(reflect.ValueOf(x))
		return pv, end, true, nil
	case !ok(pv.Kind()):
		d.typeError(what, pv.Type(), i+1)
	default:
		return pv, 0, false, nil
	}
	return pv, d.end(i), true, nil
}

func (d *decoder) array(i int, v reflect.Value) (int, error) {
	v, end, done, err := d.composite(i, v, "array", func(k reflect.Kind) bool { return k == reflect.Array || k == reflect.Slice })
	if done {
		return end, err
	}
	n := 0
	i = skipSpace(d.data, i+1)
	for d.data[i] != ']' {
		if v.Kind() == reflect.Slice {
			if n >= v.Cap() {
				v.Grow(1)
			}
			if n >= v.Len() {
				v.SetLen(n + 1)
			}
		}
		elem := reflect.Value{}
		if n < v.Len() {
			elem = v.Index(n)
		}
		if i, err = d.value(i, elem); err != nil {
			return i, err
		}
		n++
		if i = skipSpace(d.data, i); d.data[i] == ',' {
			i = skipSpace(d.data, i+1)
		}
	}
	if n < v.Len() {
		if v.Kind() == reflect.Array {
			for ; n < v.Len(); n++ {
				v.Index(n).SetZero()
			}
		} else {
			v.SetLen(n)
		}
	}
	if n == 0 && v.Kind() == reflect.Slice {
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	}
	return i + 1, nil
}

func (d *decoder) object(i int, v reflect.Value) (int, error) {
	v, end, done, err := d.composite(i, v, "object", func(k reflect.Kind) bool { return k == reflect.Map || k == reflect.Struct })
	if done {
		return end, err
	}
	t := v.Type()
	var fields []jsonField
	var mapElem reflect.Value
	isMap := v.Kind() == reflect.Map
	if isMap {
		switch t.Key().Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			if !reflect.PointerTo(t.Key()).Implements(textUnmarshalerType) {
				d.typeError("object", t, i+1)
				return d.end(i), nil
			}
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
	} else {
		fields = structFields(t)
	}
	origStruct, origPath := d.errStruct, d.pathLen
	i = skipSpace(d.data, i+1)
	for d.data[i] != '}' {
		start := i
		var buf [64]byte
		key, next := d.str(i, buf[:0])
		i = skipSpace(d.data, skipSpace(d.data, next)+1) // past ':'
		var sub reflect.Value
		quoted, plain := false, false
		if isMap {
			if !mapElem.IsValid() {
				mapElem = reflect.New(t.Elem()).Elem()
			} else {
				mapElem.SetZero()
			}
			sub = mapElem
		} else if f := lookupField(fields, key); f != nil {
			sub, quoted, plain = v, f.quoted, f.plain
			for n, j := range f.index {
				if sub.Kind() == reflect.Pointer {
					if sub.IsNil() {
						if !sub.CanSet() {
							d.save(fmt.Errorf("json: cannot set embedded pointer to unexported struct: %v", sub.Type().Elem()))
							sub, quoted, plain = reflect.Value{}, false, false
							break
						}
						sub.Set(reflect.New(sub.Type().Elem()))
					}
					sub = sub.Elem()
				}
				if n < len(f.index)-1 {
					d.push(sub.Type().Field(j).Name)
				}
				sub = sub.Field(j)
			}
			d.errStruct = t
			d.push(f.name)
		}
		if c := d.data[i]; quoted {
			i, err = d.quotedValue(i, sub)
		} else if plain && c != '{' && c != '[' {
			end := d.end(i)
			i, err = end, d.literalInto(d.data[i:end], sub, false, end, true)
		} else {
			i, err = d.value(i, sub)
		}
		if err != nil {
			return i, err
		}
		if isMap {
			if err := d.mapKey(v, d.data[start:next], key, start, sub); err != nil {
				return i, err
			}
		}
		d.errStruct, d.pathLen = origStruct, origPath
		if i = skipSpace(d.data, i); d.data[i] == ',' {
			i = skipSpace(d.data, i+1)
		}
	}
	return i + 1, nil
}

// lookupField finds the field for a key as encoding/json does: an exact
// match, else the first field whose name matches case-insensitively.
func lookupField(fields []jsonField, key []byte) *jsonField {
	for i := range fields {
		if fields[i].name == string(key) {
			return &fields[i]
		}
	}
	var buf [64]byte
	folded := appendFoldedName(buf[:0], key)
	for i := range fields {
		if fields[i].folded == string(folded) {
			return &fields[i]
		}
	}
	return nil
}

// mapKey stores elem in the map v under key (item is the key as written).
func (d *decoder) mapKey(v reflect.Value, item, key []byte, start int, elem reflect.Value) error {
	kt := v.Type().Key()
	var kv reflect.Value
	if reflect.PointerTo(kt).Implements(textUnmarshalerType) {
		kv = reflect.New(kt)
		if err := d.literal(item, kv, true, start); err != nil {
			return err
		}
		kv = kv.Elem()
	} else {
		switch kt.Kind() {
		case reflect.String:
			kv = reflect.New(kt).Elem()
			kv.SetString(string(key))
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			n, err := strconv.ParseInt(string(key), 10, 64)
			if err != nil || kt.OverflowInt(n) {
				d.typeError("number "+string(key), kt, start+1)
				return nil
			}
			kv = reflect.New(kt).Elem()
			kv.SetInt(n)
		default:
			n, err := strconv.ParseUint(string(key), 10, 64)
			if err != nil || kt.OverflowUint(n) {
				d.typeError("number "+string(key), kt, start+1)
				return nil
			}
			kv = reflect.New(kt).Elem()
			kv.SetUint(n)
		}
	}
	v.SetMapIndex(kv, elem)
	return nil
}

// quotedValue decodes a field with the "string" option: a string holding
// the value, or null.
func (d *decoder) quotedValue(i int, v reflect.Value) (int, error) {
	end := d.end(i)
	switch c := d.data[i]; c {
	case 'n':
		return end, d.literal(d.data[i:end], v, false, end)
	case '"':
		s, _ := d.str(i, nil)
		return end, d.literal(s, v, true, end)
	case '{', '[', 't', 'f':
	default:
		if _, err := strconv.ParseFloat(string(d.data[i:end]), 64); err != nil && !d.useNumber {
			// encoding/json reads an out-of-range number as null here.
			d.typeError("number "+string(d.data[i:end]), reflect.TypeFor[float64](), end+1)
			return end, d.literal([]byte("null"), v, false, end)
		}
	}
	d.save(fmt.Errorf("json: invalid use of ,string struct tag, trying to unmarshal unquoted value into %v", v.Type()))
	return end, nil
}

// literal decodes the literal item (a string, number, bool or null, or
// with quoted the contents of a "string" option's string) into v; end is
// the index after it, for errors.
func (d *decoder) literal(item []byte, v reflect.Value, quoted bool, end int) error {
	return d.literalInto(item, v, quoted, end, false)
}

// literalInto is literal; plain says that v is a scalar without
// unmarshalers, which indirect would return unchanged.
func (d *decoder) literalInto(item []byte, v reflect.Value, quoted bool, end int, plain bool) error {
	badQuoted := func() error {
		return fmt.Errorf("json: invalid use of ,string struct tag, trying to unmarshal %q into %v", item, v.Type())
	}
	if len(item) == 0 {
		d.save(badQuoted())
		return nil
	}
	c := item[0]
	var u json.Unmarshaler
	var ut encoding.TextUnmarshaler
	pv := v
	if !plain {
		u, ut, pv = indirect(v, c == 'n')
	}
	if u != nil {
		return u.UnmarshalJSON(item)
	}
	if ut != nil {
		if c != '"' {
			if quoted {
				d.save(badQuoted())
				return nil
			}
			what := "number"
			switch c {
			case 'n':
				what = "null"
			case 't', 'f':
				what = "bool"
			}
			d.typeError(what, v.Type(), end)
			return nil
		}
		s, ok := unquote(item)
		if !ok {
			return badQuoted()
		}
		return ut.UnmarshalText(s)
	}
	v = pv
	k := v.Kind()
	switch c {
	case 'n':
		if quoted && string(item) != "null" {
			d.save(badQuoted())
			break
		}
		switch k {
		case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice:
			v.SetZero()
		}
	case 't', 'f':
		if quoted && string(item) != "true" && string(item) != "false" {
			d.save(badQuoted())
			break
		}
		switch {
		case k == reflect.Bool:
			v.SetBool(c == 't')
		case k == reflect.Interface && v.NumMethod() == 0:
			v.Set(reflect.ValueOf(c == 't'))
		case quoted:
			d.save(badQuoted())
		default:
			d.typeError("bool", v.Type(), end)
		}
	case '"':
		s, ok := unquote(item)
		if !ok {
			if quoted {
				return badQuoted()
			}
			s = nil
		}
		switch {
		case k == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
			b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
			n, err := base64.StdEncoding.Decode(b, s)
			if err != nil {
				d.save(err)
				break
			}
			v.SetBytes(b[:n])
		case k == reflect.String:
			if v.Type() == numberType && !isValidNumber(string(s)) {
				return fmt.Errorf("json: invalid number literal, trying to unmarshal %q into Number", item)
			}
			v.SetString(string(s))
		case k == reflect.Interface && v.NumMethod() == 0:
			v.Set(reflect.ValueOf(string(s)))
		default:
			d.typeError("string", v.Type(), end)
		}
	default:
		if c != '-' && (c < '0' || c > '9') {
			return badQuoted()
		}
		return d.number(item, v, quoted, end)
	}
	return nil
}

func (d *decoder) number(item []byte, v reflect.Value, quoted bool, end int) error {
	s := string(item)
	switch v.Kind() {
	case reflect.Interface:
		n, err := d.convertNumber(s, end+1)
		if err != nil {
			d.save(err)
		} else if v.NumMethod() != 0 {
			d.typeError("number", v.Type(), end)
		} else {
			v.Set(reflect.ValueOf(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v.OverflowInt(n) {
			d.typeError("number "+s, v.Type(), end)
			break
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || v.OverflowUint(n) {
			d.typeError("number "+s, v.Type(), end)
			break
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil || v.OverflowFloat(n) {
			d.typeError("number "+s, v.Type(), end)
			break
		}
		v.SetFloat(n)
	default:
		if v.Type() == numberType {
			v.SetString(s)
			break
		}
		if quoted {
			return fmt.Errorf("json: invalid use of ,string struct tag, trying to unmarshal %q into %v", item, v.Type())
		}
		d.typeError("number", v.Type(), end)
	}
	return nil
}

func (d *decoder) convertNumber(s string, offset int) (any, error) {
	if d.useNumber {
		return json.Number(s), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, &json.UnmarshalTypeError{Value: "number " + s, Type: reflect.TypeFor[float64](), Offset: int64(offset)}
	}
	return f, nil
}

// valueAny decodes the value at i as an any; it returns the index after it.
func (d *decoder) valueAny(i int) (any, int) {
	switch c := d.data[i]; c {
	case '{':
		m := map[string]any{}
		i = skipSpace(d.data, i+1)
		for d.data[i] != '}' {
			var buf [64]byte
			key, next := d.str(i, buf[:0])
			var x any
			x, i = d.valueAny(skipSpace(d.data, skipSpace(d.data, next)+1))
			m[string(key)] = x
			if i = skipSpace(d.data, i); d.data[i] == ',' {
				i = skipSpace(d.data, i+1)
			}
		}
		return m, i + 1
	case '[':
		a := []any{}
		i = skipSpace(d.data, i+1)
		for d.data[i] != ']' {
			var x any
			x, i = d.valueAny(i)
			a = append(a, x)
			if i = skipSpace(d.data, i); d.data[i] == ',' {
				i = skipSpace(d.data, i+1)
			}
		}
		return a, i + 1
	case '"':
		s, end := d.str(i, nil)
		return string(s), end
	case 't':
		return true, i + 4
	case 'f':
		return false, i + 5
	case 'n':
		return nil, i + 4
	}
	end := scanNumber(d.data, i)
	n, err := d.convertNumber(string(d.data[i:end]), end+1)
	if err != nil {
		d.save(err)
	}
	return n, end
}

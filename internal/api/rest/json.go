package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/usher-rtc/usher/internal/apierr"
	"github.com/usher-rtc/usher/internal/room"
)

// jsonSpace is JSON's whitespace.
const jsonSpace = " \t\r\n"

// decode reads the request body as one JSON object into v, strictly (see decodeJSON);
// an oversized body is PAYLOAD_TOO_LARGE.
func decode(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("%w: the limit is %d bytes", apierr.ErrBodyTooLarge, tooBig.Limit)
		}
		return fmt.Errorf("%w: the body could not be read", room.ErrInvalidArgument)
	}
	return decodeJSON(data, v)
}

// decodeJSON decodes data as one JSON object into v (a pointer to a struct), strictly:
// at every depth an object's keys are distinct and a struct's keys are its json tags
// exactly (encoding/json alone would take the last of two duplicates and match keys
// case-insensitively, so two parsers could read one body differently); unknown
// fields, wrong types and trailing data are errors that say what was wrong.
func decodeJSON(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%w: the request body must be a JSON object", room.ErrInvalidArgument)
	}
	if err := checkKeys(data, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s", room.ErrInvalidArgument, describeJSONError(err, reflect.TypeOf(v)))
	}
	// Not dec.More(), which is false before a stray '}' or ']'; and JSON's whitespace
	// only (bytes.TrimSpace would also take \v, \f and Unicode spaces, which JSON
	// does not).
	if len(bytes.TrimLeft(data[dec.InputOffset():], jsonSpace)) > 0 {
		return fmt.Errorf("%w: the body holds data after its JSON object", room.ErrInvalidArgument)
	}
	return nil
}

// checkKeys walks the first JSON value of data alongside the Go type t and refuses a
// key that appears twice in one object, and a struct key that is not exactly one of
// its json tags. Values whose JSON kind does not fit t are skipped: the decoder
// reports their type. Errors name the key by its path ("permission.can_publish").
func checkKeys(data []byte, t reflect.Type) error {
	k := keyChecker{dec: json.NewDecoder(bytes.NewReader(data))}
	k.dec.UseNumber()
	t = deref(t)
	tok, err := k.token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' || t == nil || t.Kind() != reflect.Struct {
		return fmt.Errorf("%w: the request body must be a JSON object", room.ErrInvalidArgument)
	}
	return k.object(t, "")
}

type keyChecker struct {
	dec *json.Decoder
}

func (k *keyChecker) token() (json.Token, error) {
	tok, err := k.dec.Token()
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // EOF inside a value: the body ends early
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s", room.ErrInvalidArgument, describeJSONError(err, nil))
	}
	return tok, nil
}

// object checks the rest of an object whose '{' was read: the object of struct type t,
// or of map type t, or of no known type (t nil: keys are only checked for duplicates).
func (k *keyChecker) object(t reflect.Type, path string) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	switch {
	case t != nil && t.Kind() == reflect.Struct:
		fields = jsonFields(t)
	case t != nil && t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	seen := map[string]bool{}
	for k.dec.More() {
		tok, err := k.token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		name := key
		if path != "" {
			name = path + "." + key
		}
		if seen[key] {
			return fmt.Errorf("%w: duplicate key %q", room.ErrInvalidArgument, name)
		}
		seen[key] = true
		vt := elem
		if fields != nil {
			ft, ok := fields[key]
			if !ok {
				return unknownField(name, key, fields)
			}
			vt = ft
		}
		if err := k.value(vt, name); err != nil {
			return err
		}
	}
	_, err := k.token() // '}'
	return err
}

// value checks one value that should be of type t (nil: not known, or not a container).
func (k *keyChecker) value(t reflect.Type, path string) error {
	tok, err := k.token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar: its type is the decoder's business
	}
	t = deref(t)
	switch {
	case d == '{' && t != nil && (t.Kind() == reflect.Struct || t.Kind() == reflect.Map):
		return k.object(t, path)
	case d == '[' && t != nil && t.Kind() == reflect.Slice:
		for i := 0; k.dec.More(); i++ {
			if err := k.value(t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		_, err := k.token() // ']'
		return err
	}
	return k.skip()
}

// skip reads the rest of a container whose opening delimiter was read, without
// recursion (its depth is the sender's choice). The decoder refuses its type.
func (k *keyChecker) skip() error {
	for depth := 1; depth > 0; {
		tok, err := k.token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

func unknownField(name, key string, fields map[string]reflect.Type) error {
	for tag := range fields {
		if strings.EqualFold(tag, key) {
			return fmt.Errorf("%w: unknown field %q (keys are case-sensitive: did you mean %q?)", room.ErrInvalidArgument, name, tag)
		}
	}
	return fmt.Errorf("%w: unknown field %q", room.ErrInvalidArgument, name)
}

// jsonFields returns the JSON keys of a struct type (as encoding/json names them,
// embedded structs flattened) with their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && deref(f.Type).Kind() == reflect.Struct {
			for k, v := range jsonFields(deref(f.Type)) {
				if _, shadowed := out[k]; !shadowed {
					out[k] = v
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// describeJSONError says what is wrong with a body decoded into a value of type t (nil
// when not known).
func describeJSONError(err error, t reflect.Type) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "the request body must be a JSON object"
		}
		return fmt.Sprintf("field %q must be %s, not %s", keyPath(t, typ.Field), jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: the body ends early"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}

// keyPath turns encoding/json's path of a field in a value of type t
// ("SelectorJSON.presets") into the body's key path ("presets"): an embedded struct
// has no key of its own.
func keyPath(t reflect.Type, path string) string {
	var out []string
	for _, seg := range strings.Split(path, ".") {
		t = deref(t)
		if t != nil && t.Kind() == reflect.Struct {
			if f, ok := t.FieldByName(seg); ok && f.Anonymous && f.Tag.Get("json") == "" {
				t = f.Type
				continue
			}
			t = jsonFields(t)[seg]
		} else {
			t = nil
		}
		out = append(out, seg)
	}
	return strings.Join(out, ".")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int32", "int64", "uint32", "uint64", "uint":
		return "a whole number"
	case "map", "struct", "ptr":
		return "an object"
	case "slice":
		return "an array"
	}
	return "of another type"
}

func unescape(s string) (string, error) { return url.PathUnescape(s) }

package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/usher-rtc/usher/internal/apierr"
	"github.com/usher-rtc/usher/internal/room"
)

// decode reads the request body as one JSON object into v, strictly: unknown fields,
// wrong types, trailing data and oversized bodies are errors that say what was wrong.
func decode(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("%w: the limit is %d bytes", apierr.ErrBodyTooLarge, tooBig.Limit)
		}
		return fmt.Errorf("%w: the body could not be read", room.ErrInvalidArgument)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%w: the request body must be a JSON object", room.ErrInvalidArgument)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s", room.ErrInvalidArgument, describeJSONError(err))
	}
	if dec.More() {
		return fmt.Errorf("%w: the body holds data after its JSON object", room.ErrInvalidArgument)
	}
	return nil
}

func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "the request body must be a JSON object"
		}
		return fmt.Sprintf("field %q must be %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: the body ends early"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
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

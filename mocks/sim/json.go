package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxBodyBytes caps how much of a request body a simulator reads. Partner requests are a
// few hundred bytes; the cap keeps a misbehaving client from exhausting memory.
const MaxBodyBytes = 1 << 20

// ErrBodyTooLarge is returned by ReadBody when a body exceeds MaxBodyBytes.
var ErrBodyTooLarge = errors.New("sim: request body too large")

// ReadBody reads the whole request body, at most MaxBodyBytes. Simulators need the raw
// bytes, not a decoder, because partner signatures cover the exact bytes sent.
func ReadBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("sim: read body: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, ErrBodyTooLarge
	}
	return body, nil
}

// DecodeJSON decodes exactly one JSON value from data into v. Unknown fields are allowed
// (partners ignore them) but trailing data is not, so a truncated or concatenated body is
// refused the way a real JSON parser would.
func DecodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("sim: decode json: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("sim: decode json: trailing data after the JSON value")
	}
	return nil
}

// WriteJSON answers with status and v encoded as JSON. Simulators always answer JSON,
// errors included, because partner SDKs treat a non-JSON body as a transport failure.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a programming error (an unmarshalable type) gets here; still answer JSON.
		status = http.StatusInternalServerError
		body = []byte(`{"error":"simulator could not encode its response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

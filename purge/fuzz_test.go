package purge

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodeRequest feeds arbitrary POST bodies to the request parser and
// checker: they must never panic, and an accepted request must give an
// event that survives the bus's encoding.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"urls": ["https://assets.example.com/a"]}`,
		`{"prefixes": ["http://a/"], "tags": ["x"], "all": "a.example", "soft": true}`,
		`{"all": ["a", "b"]}`, `{"urls": [1]}`, `{}`, `[]`, `{"tags": ["\u0000"]}`,
		`{"urls": ["HTTPS://A:443/%zz?q#f"]}`,
	} {
		f.Add([]byte(s))
	}
	c := checker{maxItems: 1000}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeRequest(bytes.NewReader(body))
		if err != nil {
			return
		}
		ev, err := c.event(req)
		if err != nil {
			return
		}
		ev.ID, ev.Time = newID(), fixedTime
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("encode accepted event: %v", err)
		}
		if _, err := DecodeEvent(data); err != nil {
			t.Fatalf("accepted event %s does not decode: %v", data, err)
		}
	})
}

// FuzzDecodeEvent feeds arbitrary bus messages to the node's decoder.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"id":"a","time":"2025-01-01T00:00:00Z","tags":["x"]}`))
	f.Add([]byte(`{"id":"a","time":"bad","urls":[]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := DecodeEvent(data)
		if err == nil && (ev.Items() == 0 || ev.Time.IsZero() || !validToken(ev.ID)) {
			t.Fatalf("DecodeEvent accepted an invalid event %+v", ev)
		}
	})
}

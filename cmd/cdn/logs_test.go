package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// The origin logs JSON like every other role (an already-cancelled
// context makes it start, log and stop at once).
func TestOriginLogsJSON(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	if err := cmdOrigin(ctx, []string{"--listen", "127.0.0.1:0"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	sc := bufio.NewScanner(&errb)
	for sc.Scan() {
		var l struct{ Msg string }
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("origin log line is not JSON: %q", sc.Text())
		}
		msgs = append(msgs, l.Msg)
	}
	if got := strings.Join(msgs, ", "); got != "origin listening, origin stopped" {
		t.Errorf("origin logged %q", got)
	}
}

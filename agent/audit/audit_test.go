package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOneParsableLinePerRecord(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			l.Write(Record{RequestID: "r", Transport: "unix", PeerPID: int32(i + 1), PeerUID: 0,
				Namespace: "ns", Op: "read", Mount: "kv", Path: "a/b", Status: 200, Outcome: "ok",
				Duration: 1500 * time.Microsecond})
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines, want 50", len(lines))
	}
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		for _, k := range []string{"time", "request_id", "transport", "peer_pid", "peer_uid", "namespace", "op", "mount", "path", "status", "outcome", "duration_ms"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("line lacks %q: %s", k, line)
			}
		}
		if m["duration_ms"].(float64) != 1.5 {
			t.Fatalf("duration_ms = %v", m["duration_ms"])
		}
	}
}

func TestTCPRecordOmitsPeerCreds(t *testing.T) {
	var buf bytes.Buffer
	New(&buf).Write(Record{Transport: "tcp", RemoteIP: "10.0.0.7", PeerUID: -1, Status: 401, Outcome: "unauthenticated"})
	s := buf.String()
	if strings.Contains(s, "peer_uid") || strings.Contains(s, "peer_pid") || !strings.Contains(s, `"remote_ip":"10.0.0.7"`) {
		t.Fatalf("unexpected line %s", s)
	}
}

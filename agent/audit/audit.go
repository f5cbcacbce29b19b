// Package audit writes the broker's audit stream: exactly one JSON line per
// caller request, with a stable schema (field names in agent/logfield). The
// Record type has no field that can hold a token or a secret value, so an
// audit line cannot leak one however it is filled.
package audit

import (
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/secrets-broker/secrets-broker/agent/logfield"
)

// Record is one request's audit facts.
type Record struct {
	Time           time.Time
	RequestID      string
	Transport      string // unix or tcp
	PeerPID        int32  // unix only; 0 when unknown
	PeerUID        int64  // unix only; -1 when unknown
	RemoteIP       string // tcp only
	Namespace      string
	ServiceAccount string
	Pod            string
	PodUID         string
	Node           string
	VaultRole      string
	Route          string // api or vault
	Op             string
	Mount          string
	Path           string
	Status         int
	Outcome        string // ok or the error code
	Accessor       string // Vault token accessor: identifies, cannot be used
	VaultRequestID string
	Duration       time.Duration
}

// Logger writes records. It serialises writes so lines never interleave.
type Logger struct {
	mu sync.Mutex
	zl zerolog.Logger
}

// New writes audit lines to w.
func New(w io.Writer) *Logger {
	return &Logger{zl: zerolog.New(w).With().Str("stream", "audit").Logger()}
}

// Write emits one line.
func (l *Logger) Write(r Record) {
	if l == nil {
		return
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := l.zl.Log().Time("time", r.Time.UTC()).
		Str(logfield.RequestID, r.RequestID).
		Str(logfield.Transport, r.Transport)
	if r.PeerPID > 0 {
		ev = ev.Int32(logfield.PeerPID, r.PeerPID)
	}
	if r.PeerUID >= 0 && r.Transport == "unix" {
		ev = ev.Int64(logfield.PeerUID, r.PeerUID)
	}
	ev = optional(ev, logfield.RemoteIP, r.RemoteIP)
	ev = optional(ev, logfield.Namespace, r.Namespace)
	ev = optional(ev, logfield.ServiceAccount, r.ServiceAccount)
	ev = optional(ev, logfield.Pod, r.Pod)
	ev = optional(ev, logfield.PodUID, r.PodUID)
	ev = optional(ev, logfield.Node, r.Node)
	ev = optional(ev, logfield.VaultRole, r.VaultRole)
	ev.Str(logfield.Route, r.Route).
		Str(logfield.Op, r.Op).
		Str(logfield.Mount, r.Mount).
		Str(logfield.Path, r.Path).
		Int(logfield.Status, r.Status).
		Str(logfield.Outcome, r.Outcome).
		Str(logfield.Accessor, r.Accessor).
		Str(logfield.VaultRequestID, r.VaultRequestID).
		Float64(logfield.DurationMS, float64(r.Duration.Microseconds())/1000).
		Send()
}

func optional(ev *zerolog.Event, key, val string) *zerolog.Event {
	if val == "" {
		return ev
	}
	return ev.Str(key, val)
}

package policy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/secrets-broker/secrets-broker/agent/dirwatch"
	"github.com/secrets-broker/secrets-broker/agent/logfield"
	"github.com/secrets-broker/secrets-broker/agent/metrics"
)

const (
	// defaultDebounce coalesces the burst of events of one kubelet update
	// or editor save into one reload.
	defaultDebounce = 200 * time.Millisecond
	// defaultResync re-reads the file now and then in case fsnotify missed
	// an event (queue overflow, a directory replaced under us).
	defaultResync = time.Minute
)

// Store holds the current policy and reloads it when the file changes.
type Store struct {
	path    string
	log     zerolog.Logger
	metrics *metrics.Metrics

	debounce time.Duration
	resync   time.Duration

	cur atomic.Pointer[Policy]
	gen atomic.Uint64 // successful loads

	mu      sync.Mutex // guards the fields below
	lastErr error
	lastSum [sha256.Size]byte // content of the last parsed file
	haveSum bool
}

// NewStore returns a Store for the policy file at path; call Load, then Run.
func NewStore(path string, logger zerolog.Logger, m *metrics.Metrics) *Store {
	return &Store{
		path:     filepath.Clean(path),
		log:      logger.With().Str(logfield.File, path).Logger(),
		metrics:  m,
		debounce: defaultDebounce,
		resync:   defaultResync,
	}
}

// Load reads and parses the file; an error leaves the store as it was.
func (s *Store) Load() error { return s.reload(true) }

// Current is the last good policy, nil before the first good load.
func (s *Store) Current() *Policy { return s.cur.Load() }

// Loaded reports whether a good policy has been loaded.
func (s *Store) Loaded() bool { return s.cur.Load() != nil }

// Lookup consults the current policy; false when none is loaded.
func (s *Store) Lookup(ns, sa string) (Entry, bool) {
	p := s.cur.Load()
	if p == nil {
		return Entry{}, false
	}
	return p.Lookup(ns, sa)
}

// Generation counts successful loads.
func (s *Store) Generation() uint64 { return s.gen.Load() }

// LastError is the error of the most recent load attempt, nil if it
// succeeded.
func (s *Store) LastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// reload reads and applies the file. Unless force is set, content that was
// already parsed (good or bad) is skipped, so unrelated events in the
// directory cause neither log lines nor metric increments.
func (s *Store) reload(force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := os.ReadFile(s.path)
	if err != nil {
		s.haveSum = false
		return s.fail(fmt.Errorf("read policy: %w", err))
	}
	sum := sha256.Sum256(data)
	if !force && s.haveSum && sum == s.lastSum {
		return s.lastErr
	}
	s.lastSum, s.haveSum = sum, true
	p, err := Parse(data)
	if err != nil {
		return s.fail(err)
	}
	s.cur.Store(p)
	s.lastErr = nil
	gen := s.gen.Add(1)
	s.metrics.PolicyReload(true)
	s.log.Info().Int("entries", p.Len()).Uint64("generation", gen).Msg("policy loaded")
	return nil
}

// fail records a failed load; s.mu is held. The last good policy stays.
func (s *Store) fail(err error) error {
	s.lastErr = err
	s.metrics.PolicyReload(false)
	s.log.Error().Err(err).Bool("kept_previous", s.cur.Load() != nil).Msg("policy load failed")
	return err
}

// Run watches the file's directory (see dirwatch for why the directory)
// until ctx ends, reloading on change; a bad file keeps the last good policy.
func (s *Store) Run(ctx context.Context) error {
	err := dirwatch.Run(ctx, dirwatch.Config{
		Files: []string{s.path}, Debounce: s.debounce, Resync: s.resync,
		Reload: func() { _ = s.reload(false) }, Logger: s.log,
	})
	if err != nil {
		return fmt.Errorf("policy watch: %w", err)
	}
	return nil
}

// Package tlsreload serves a TLS certificate from files that may be
// replaced while the broker runs (a cert-manager Secret mount, a rotated
// file), without a restart.
//
// It defends against: an outage when a certificate is rotated (the new one
// is picked up from disk), and an outage when a rotation goes wrong (a
// missing, half-written or mismatched pair is logged and the previous
// certificate keeps being served).
package tlsreload

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/secrets-broker/secrets-broker/agent/dirwatch"
	"github.com/secrets-broker/secrets-broker/agent/logfield"
)

const (
	// defaultDebounce coalesces the events of one rotation (cert and key
	// are two writes, or one ..data swap) into one reload.
	defaultDebounce = 200 * time.Millisecond
	// defaultResync re-reads the files in case fsnotify missed an event.
	defaultResync = 5 * time.Minute
)

// Reloader holds the current certificate. Safe for concurrent use.
type Reloader struct {
	certFile, keyFile string
	log               zerolog.Logger
	debounce, resync  time.Duration

	cert     atomic.Pointer[tls.Certificate]
	failures atomic.Uint64 // failed reloads, for tests
}

// New loads the pair at once and fails if it is unusable.
func New(certFile, keyFile string, logger zerolog.Logger) (*Reloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("certificate and key files are both required")
	}
	r := &Reloader{
		certFile: filepath.Clean(certFile),
		keyFile:  filepath.Clean(keyFile),
		log:      logger.With().Str(logfield.File, certFile).Logger(),
		debounce: defaultDebounce,
		resync:   defaultResync,
	}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate is the tls.Config hook: it returns the current certificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// TLSConfig is a server configuration serving the reloaded certificate.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// reload loads the pair and swaps it in; on error the old one stays.
func (r *Reloader) reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		r.failures.Add(1)
		err = fmt.Errorf("load tls key pair: %w", err)
		r.log.Error().Err(err).Bool("kept_previous", r.cert.Load() != nil).Msg("tls certificate reload failed")
		return err
	}
	if old := r.cert.Load(); old != nil && sameChain(old, &c) {
		return nil
	}
	r.cert.Store(&c)
	ev := r.log.Info()
	if c.Leaf != nil {
		ev = ev.Str("subject", c.Leaf.Subject.String()).Str("serial", c.Leaf.SerialNumber.String()).
			Time("not_after", c.Leaf.NotAfter)
	}
	ev.Msg("tls certificate loaded")
	return nil
}

// sameChain is true when nothing changed: a key rotation always comes
// with a new certificate.
func sameChain(a, b *tls.Certificate) bool {
	if len(a.Certificate) != len(b.Certificate) {
		return false
	}
	for i := range a.Certificate {
		if !bytes.Equal(a.Certificate[i], b.Certificate[i]) {
			return false
		}
	}
	return true
}

// Run watches the directories of both files (see dirwatch for why the
// directories) until ctx ends, keeping the old pair when a new one is bad.
func (r *Reloader) Run(ctx context.Context) error {
	err := dirwatch.Run(ctx, dirwatch.Config{
		Files: []string{r.certFile, r.keyFile}, Debounce: r.debounce, Resync: r.resync,
		Reload: func() { _ = r.reload() }, Logger: r.log,
	})
	if err != nil {
		return fmt.Errorf("tls watch: %w", err)
	}
	return nil
}

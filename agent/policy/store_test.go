package policy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/rs/zerolog"

	"github.com/secrets-broker/secrets-broker/agent/metrics"
)

const (
	docV1  = "policy:\n  - {k8s_ns: a, k8s_sa: sa, vault_role: r1}\n"
	docV2  = "policy:\n  - {k8s_ns: a, k8s_sa: sa, vault_role: r2}\n  - {k8s_ns: b, k8s_sa: sa, vault_role: r3}\n"
	docV3  = "policy:\n  - {k8s_ns: a, k8s_sa: sa, vault_role: r4}\n"
	docBad = "policy:\n  - {k8s_ns: a, k8s_sa: sa, vault_role: r2, bogus: 1}\n"
)

// configMapDir lays out a directory the way kubelet mounts a ConfigMap:
// policy.yaml -> ..data/policy.yaml, ..data -> ..<version>.
type configMapDir struct {
	t   *testing.T
	dir string
	n   int
}

func newConfigMapDir(t *testing.T, doc string) *configMapDir {
	c := &configMapDir{t: t, dir: t.TempDir()}
	c.update(doc)
	if err := os.Symlink(filepath.Join("..data", "policy.yaml"), filepath.Join(c.dir, "policy.yaml")); err != nil {
		t.Fatal(err)
	}
	return c
}

// update performs kubelet's atomic swap: new versioned dir, ..data_tmp
// symlink, rename over ..data, remove the old version.
func (c *configMapDir) update(doc string) {
	c.t.Helper()
	old := c.version()
	c.n++
	ver := c.version()
	must(c.t, os.Mkdir(filepath.Join(c.dir, ver), 0o755))
	must(c.t, os.WriteFile(filepath.Join(c.dir, ver, "policy.yaml"), []byte(doc), 0o644))
	must(c.t, os.Symlink(ver, filepath.Join(c.dir, "..data_tmp")))
	must(c.t, os.Rename(filepath.Join(c.dir, "..data_tmp"), filepath.Join(c.dir, "..data")))
	if c.n > 1 {
		must(c.t, os.RemoveAll(filepath.Join(c.dir, old)))
	}
}

func (c *configMapDir) version() string { return "..2030_01_01_00_00_0" + string(rune('0'+c.n)) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// startStore loads path and runs the watcher until the test ends.
func startStore(t *testing.T, path string) (*Store, *metrics.Metrics, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	m := metrics.New()
	s := NewStore(path, zerolog.New(logs), m)
	s.debounce = 20 * time.Millisecond
	must(t, s.Load())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	// Run re-reads once after the watch is in place; unchanged content
	// makes that a no-op, so give it a moment to be watching.
	time.Sleep(50 * time.Millisecond)
	return s, m, logs
}

// syncBuffer is a log sink the watcher goroutine and the test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func roleOf(s *Store) string {
	e, _ := s.Lookup("a", "sa")
	return e.VaultRole
}

func TestStoreConfigMapSwap(t *testing.T) {
	cm := newConfigMapDir(t, docV1)
	s, _, _ := startStore(t, filepath.Join(cm.dir, "policy.yaml"))
	if roleOf(s) != "r1" {
		t.Fatalf("role = %q", roleOf(s))
	}
	cm.update(docV2)
	waitFor(t, "v2", func() bool { return roleOf(s) == "r2" })
	if s.Current().Len() != 2 {
		t.Errorf("Len = %d", s.Current().Len())
	}
	cm.update(docV3) // the watch must survive the first swap
	waitFor(t, "v3", func() bool { return roleOf(s) == "r4" })
	if s.Generation() != 3 {
		t.Errorf("Generation = %d, want 3", s.Generation())
	}
}

func TestStorePlainFile(t *testing.T) {
	tests := []struct {
		name  string
		write func(t *testing.T, path, doc string)
	}{
		{"rewrite in place", func(t *testing.T, path, doc string) {
			must(t, os.WriteFile(path, []byte(doc), 0o644))
		}},
		{"editor rename", func(t *testing.T, path, doc string) {
			tmp := path + ".swp"
			must(t, os.WriteFile(tmp, []byte(doc), 0o644))
			must(t, os.Rename(tmp, path))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "policy.yaml")
			must(t, os.WriteFile(path, []byte(docV1), 0o644))
			s, _, _ := startStore(t, path)
			tt.write(t, path, docV2)
			waitFor(t, "v2", func() bool { return roleOf(s) == "r2" })
			tt.write(t, path, docV3)
			waitFor(t, "v3", func() bool { return roleOf(s) == "r4" })
		})
	}
}

func TestStoreBadReloadKeepsLastGood(t *testing.T) {
	cm := newConfigMapDir(t, docV1)
	s, m, logs := startStore(t, filepath.Join(cm.dir, "policy.yaml"))
	cm.update(docBad)
	waitFor(t, "failed reload", func() bool { return s.LastError() != nil })
	if roleOf(s) != "r1" || s.Generation() != 1 {
		t.Errorf("after bad reload role = %q, generation = %d; want r1, 1", roleOf(s), s.Generation())
	}
	if !strings.Contains(logs.String(), `"level":"error"`) || !strings.Contains(logs.String(), "unknown field") {
		t.Errorf("bad reload not logged at error with its reason:\n%s", logs.String())
	}
	cm.update(docV2)
	waitFor(t, "fixed reload", func() bool { return roleOf(s) == "r2" })
	if s.LastError() != nil {
		t.Errorf("LastError = %v after good reload", s.LastError())
	}
	text := gatherText(t, m)
	for _, want := range []string{
		`secrets_broker_policy_reloads_total{result="ok"} 2`,
		`secrets_broker_policy_reloads_total{result="error"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestStoreLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	must(t, os.WriteFile(bad, []byte(docBad), 0o644))
	tests := []struct{ name, path string }{
		{"missing file", filepath.Join(dir, "nope.yaml")},
		{"invalid file", bad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore(tt.path, zerolog.Nop(), nil)
			if err := s.Load(); err == nil {
				t.Fatal("Load succeeded")
			}
			if s.Loaded() || s.Current() != nil || s.LastError() == nil {
				t.Error("store claims a policy after a failed first load")
			}
			if _, ok := s.Lookup("a", "sa"); ok {
				t.Error("Lookup matched with no policy")
			}
		})
	}
}

func gatherText(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	mfs, err := m.Registry.Gather()
	must(t, err)
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		must(t, enc.Encode(mf))
	}
	return buf.String()
}

package dirwatch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestUniqueDirs(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  []string
	}{
		{"none", nil, nil},
		{"one", []string{"/etc/p/policy.yaml"}, []string{"/etc/p"}},
		{"same dir twice", []string{"/tls/tls.crt", "/tls/tls.key"}, []string{"/tls"}},
		{"two dirs keep order", []string{"/b/x", "/a/y", "/b/z"}, []string{"/b", "/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := uniqueDirs(tt.files); !slices.Equal(got, tt.want) {
				t.Fatalf("uniqueDirs(%q) = %q, want %q", tt.files, got, tt.want)
			}
		})
	}
}

// start runs the watcher on dir's file and returns the reload counter and a
// stop function that cancels Run and returns its result (once; later calls
// return the same result).
func start(t *testing.T, dir string, debounce, resync time.Duration) (*atomic.Int64, func() error) {
	t.Helper()
	var reloads atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			Files:    []string{filepath.Join(dir, "policy.yaml")},
			Debounce: debounce,
			Resync:   resync,
			Reload:   func() { reloads.Add(1) },
			Logger:   zerolog.Nop(),
		})
	}()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			return errors.New("Run did not return after cancel")
		}
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFor(t, func() bool { return reloads.Load() == 1 }, "initial reload")
	return &reloads, stop
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBurstOfEventsIsOneReload(t *testing.T) {
	dir := t.TempDir()
	reloads, _ := start(t, dir, 150*time.Millisecond, time.Hour)
	for i := range 20 { // a ConfigMap swap is several events; so is an editor save
		if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte{byte(i)}, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return reloads.Load() == 2 }, "debounced reload")
	time.Sleep(400 * time.Millisecond) // well past the debounce: nothing more may come
	if got := reloads.Load(); got != 2 {
		t.Fatalf("reloads = %d after one burst, want 2 (initial + one)", got)
	}
}

func TestConfigMapDataSwapIsSeen(t *testing.T) {
	dir := t.TempDir()
	mkData := func(name, body string) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "policy.yaml"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mkData("..2026_v1", "v1")
	if err := os.Symlink("..2026_v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/policy.yaml", filepath.Join(dir, "policy.yaml")); err != nil {
		t.Fatal(err)
	}
	reloads, _ := start(t, dir, 20*time.Millisecond, time.Hour)

	// kubelet's atomic writer: new timestamped dir, new symlink, rename over ..data.
	mkData("..2026_v2", "v2")
	if err := os.Symlink("..2026_v2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return reloads.Load() >= 2 }, "reload after ..data swap")
}

func TestResyncReloadsWithoutEvents(t *testing.T) {
	reloads, _ := start(t, t.TempDir(), time.Hour, 30*time.Millisecond)
	waitFor(t, func() bool { return reloads.Load() >= 3 }, "two resyncs")
}

func TestCancelStopsRun(t *testing.T) {
	_, stop := start(t, t.TempDir(), time.Hour, time.Hour)
	if err := stop(); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
}

func TestMissingDirectoryIsAnError(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent", "policy.yaml")
	err := Run(context.Background(), Config{
		Files: []string{missing}, Debounce: time.Second, Resync: time.Second,
		Reload: func() { t.Error("reload called without a watch") }, Logger: zerolog.Nop(),
	})
	if err == nil {
		t.Fatal("Run on a missing directory = nil, want an error")
	}
}

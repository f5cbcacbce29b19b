// Package dirwatch calls a reload function when files in some directories
// change. It watches directories, never single files: kubelet updates
// ConfigMap and Secret volumes by swapping a "..data" symlink and editors
// replace files by rename, so a watch on a file goes deaf after the first
// update. Events are debounced (a swap is several events), and a periodic
// resync covers events that were missed.
package dirwatch

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
)

// Config says what to watch and what to call.
type Config struct {
	Files    []string      // the directories of these files are watched
	Debounce time.Duration // quiet time after the last event before reloading
	Resync   time.Duration // reload at least this often
	Reload   func()
	Logger   zerolog.Logger
}

// Run watches until ctx ends. It reloads once right after the watch is in
// place, to catch a change made between the caller's first load and now.
func Run(ctx context.Context, cfg Config) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("new watcher: %w", err)
	}
	defer func() { _ = w.Close() }()
	for _, dir := range uniqueDirs(cfg.Files) {
		if err := w.Add(dir); err != nil {
			return fmt.Errorf("watch %s: %w", dir, err)
		}
	}
	cfg.Reload()
	debounce := time.NewTimer(cfg.Debounce)
	debounce.Stop()
	defer debounce.Stop()
	resync := time.NewTicker(cfg.Resync)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-w.Events:
			if !ok {
				return nil
			}
			debounce.Reset(cfg.Debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			cfg.Logger.Warn().Err(err).Msg("watch error")
		case <-debounce.C:
			cfg.Reload()
		case <-resync.C:
			cfg.Reload()
		}
	}
}

func uniqueDirs(files []string) []string {
	var dirs []string
	seen := map[string]bool{}
	for _, f := range files {
		if d := filepath.Dir(f); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

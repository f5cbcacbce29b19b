// Command demo starts the real environment (etcd, kube-apiserver, Vault),
// configures the ADR-001 scenario, runs the secrets-broker on
// <run-dir>/broker.sock and a local port, walks through the ADR once, and
// keeps serving until Ctrl-C with copy-paste curl commands.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	runDir := flag.String("run-dir", "run", "directory for the socket, token files and logs")
	once := flag.Bool("once", false, "exit after the walk-through instead of serving until Ctrl-C")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *runDir, *once); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, runDir string, once bool) error {
	dir, err := filepath.Abs(runDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	d, err := start(ctx, dir)
	if err != nil {
		return err
	}
	defer d.stop()
	if err := d.walkThrough(ctx); err != nil {
		return err
	}
	d.printCommands()
	if once {
		return nil
	}
	fmt.Println("\nServing until Ctrl-C …")
	select {
	case <-ctx.Done():
	case <-d.broker.Done():
		return fmt.Errorf("broker exited; see %s", d.broker.LogPath)
	}
	fmt.Println("\nstopping …")
	return nil
}

func step(format string, a ...any) {
	fmt.Printf("\n\033[1m==> "+format+"\033[0m\n", a...)
}

// Command secrets-broker is the node-local Vault broker. main handles only
// flags, signals and the exit code; agent.New wires everything.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/secrets-broker/secrets-broker/agent"
	"github.com/secrets-broker/secrets-broker/agent/config"
)

var version = "dev"

func main() {
	os.Exit(run())
}

func run() int {
	// The broker must never hold a Vault token of its own; vault/api would
	// read this variable into new clients.
	_ = os.Unsetenv("VAULT_TOKEN")
	var f config.Flags
	fs := flag.NewFlagSet("secrets-broker", flag.ContinueOnError)
	f.Bind(fs)
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Println(version)
		return 0
	}
	cfg, err := f.Validate()
	if err != nil {
		fmt.Fprintf(os.Stderr, "secrets-broker: invalid configuration:\n%v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	a, err := agent.New(cfg, agent.Deps{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "secrets-broker: %v\n", err)
		return 1
	}
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "secrets-broker: %v\n", err)
		return 1
	}
	return 0
}

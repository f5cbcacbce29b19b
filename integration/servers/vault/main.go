// Command vault is the real HashiCorp Vault server and CLI, built from Go
// modules so tests run against the genuine article without downloads.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}

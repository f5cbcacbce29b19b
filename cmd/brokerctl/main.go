// Command brokerctl reads and writes secrets through the node's
// secrets-broker, for init containers and shell scripts. See run for the
// commands and exit codes.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

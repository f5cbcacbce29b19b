package env

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// RunTests is a test package's TestMain body: it starts one environment,
// hands it to use, runs the package's tests and stops the servers even when
// a test fails. It returns the exit code for os.Exit.
func RunTests(m *testing.M, opts Options, use func(*Env)) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	e, err := Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: start integration environment:", err)
		return 1
	}
	defer e.Stop()
	fmt.Fprintf(os.Stderr, "environment started in %s\n", time.Since(start).Round(time.Millisecond))
	use(e)
	return m.Run()
}

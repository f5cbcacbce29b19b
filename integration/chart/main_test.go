// Package chart verifies the Helm charts in charts/ and the manifests in
// deploy/ with the Helm v4 Go SDK and the real kube-apiserver of
// integration/env: lint (strict), schema checks, render with several value
// sets, server-side apply of every rendered object with strict field
// validation, and assertions on what the apiserver stored. It lives in its
// own module so Helm's dependency tree stays out of the product and
// integration modules.
package chart

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/env"
)

// testEnv is shared by every test: one etcd + kube-apiserver + Vault start.
var testEnv *env.Env

func TestMain(m *testing.M) {
	os.Exit(env.RunTests(m, env.Options{}, func(e *env.Env) { testEnv = e }))
}

// repoRoot is the repository root, two levels above this module.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "charts", "secrets-broker", "Chart.yaml")); err != nil {
		t.Fatalf("repository root not found from %s: %v", root, err)
	}
	return root
}

// Chart directories, relative to the repository root.
const (
	brokerChart  = "charts/secrets-broker"
	clientChart  = "charts/secrets-broker-client"
	exampleChart = "charts/examples/tokenizer-dp"
)

func chartDir(t testing.TB, rel string) string {
	return filepath.Join(repoRoot(t), filepath.FromSlash(rel))
}

var seq atomic.Int64

// uniq returns a DNS label no other test in this process uses.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().Unix()%100000, seq.Add(1))
}

//go:build benchprofile

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/secrets-broker/secrets-broker/agent"
	brokercfg "github.com/secrets-broker/secrets-broker/agent/config"
	"github.com/secrets-broker/secrets-broker/integration/env"
)

func init() { profileHook = (*rig).profileBroker }

// profileBroker runs the broker in this process (agent.New + Run, the same
// wiring and flags as the binary), drives warm socket reads through it and
// writes a CPU profile of the whole process to path. The bench client is
// in the profile too: read it with -focus='net/http.\(\*conn\).serve' (the
// broker's side of each connection) or look for agent/ and node/ frames.
func (r *rig) profileBroker(ctx context.Context, path string, d time.Duration) error {
	dir := filepath.Join(r.dir, "inproc")
	if err := os.MkdirAll(filepath.Join(dir, "policy"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "policy", "policy.yaml"), []byte(env.ADRPolicy), 0o644); err != nil {
		return err
	}
	sock := filepath.Join(filepath.Dir(r.plain.SocketPath), "inproc.sock")
	args := append([]string{
		"--socket-path=" + sock, "--listen-addr=", "--admin-addr=",
		"--policy-file=" + filepath.Join(dir, "policy", "policy.yaml"), "--vault-addr=" + r.env.VaultAddr(),
		"--kubeconfig=" + r.kubeconfig, "--node-name=" + nodeName, "--attestation-mode=node",
		"--audit-log=" + filepath.Join(dir, "audit.log"),
	}, brokerArgs...)
	var f brokercfg.Flags
	fs := flag.NewFlagSet("inproc", flag.ContinueOnError)
	f.Bind(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := f.Validate()
	if err != nil {
		return err
	}
	logs, err := os.Create(filepath.Join(dir, "broker.log"))
	if err != nil {
		return err
	}
	defer func() { _ = logs.Close() }()
	a, err := agent.New(cfg, agent.Deps{LogOutput: logs})
	if err != nil {
		return err
	}
	actx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	defer func() { cancel(); <-done }()
	api := readOp(unixClient(sock, 8), r.brokerPod)
	if err := waitOK(ctx, api); err != nil {
		return err
	}
	kv := getOp(unixClient(sock, 8), "http://broker/v1/kv/data/"+secretPath, "X-Vault-Token", r.brokerPod.JWT)
	runCount(ctx, 8, 500, api)
	runCount(ctx, 8, 500, kv)
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { _ = out.Close() }()
	if err := pprof.StartCPUProfile(out); err != nil {
		return err
	}
	sa := runFor(ctx, 8, d/2, api)
	sv := runFor(ctx, 8, d/2, kv)
	pprof.StopCPUProfile()
	logf("profile: /api/v1/read %v; /v1/ %v; wrote %s", sa.stats(), sv.stats(), path)
	return nil
}

// waitOK retries op until it succeeds (the socket appears once Run binds).
func waitOK(ctx context.Context, op opFunc) error {
	var err error
	for range 100 {
		if err = op(ctx, 0); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("in-process broker not serving: %w", err)
}

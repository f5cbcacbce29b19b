package brokerproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/secrets-broker/secrets-broker/integration/env"
)

// Suite is what one integration test package shares (started once in its
// TestMain): the real servers, the broker binary, and the kubeconfig of the
// broker's least-privilege ServiceAccount.
type Suite struct {
	Env        *env.Env
	Binary     string
	Kubeconfig string
	WorkDir    string
}

// StartSuite builds the broker, starts the environment and mints the
// broker's kubeconfig. On error nothing is left running.
func StartSuite(ctx context.Context, name string, opts env.Options) (*Suite, error) {
	dir, err := os.MkdirTemp("", "sb-"+name)
	if err != nil {
		return nil, err
	}
	s := &Suite{WorkDir: dir}
	if s.Binary, err = Build(ctx, dir); err != nil {
		s.Stop()
		return nil, err
	}
	if s.Env, err = env.Start(ctx, opts); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start integration environment: %w", err)
	}
	if s.Kubeconfig, err = s.Env.BrokerKubeconfig(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Stop stops the servers and removes the work directory.
func (s *Suite) Stop() {
	if s.Env != nil {
		s.Env.Stop()
	}
	_ = os.RemoveAll(s.WorkDir)
}

// Build compiles cmd/secrets-broker into dir and returns its path. It builds
// inside the product module (its own go.mod and go.sum), found by walking up
// from the working directory, so the integration module need not list the
// product's dependencies.
func Build(ctx context.Context, dir string) (string, error) {
	root, err := productRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "secrets-broker")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/secrets-broker")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build broker: %w\n%s", err, b)
	}
	return out, nil
}

func productRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "cmd", "secrets-broker")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("build broker: repository root with cmd/secrets-broker not found above " + wd)
}

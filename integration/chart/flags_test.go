package chart

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/secrets-broker/secrets-broker/agent/config"
	"github.com/secrets-broker/secrets-broker/integration/chart/render"
)

// TestChartBrokerFlags checks the DaemonSet's command line against the real
// broker: every --flag it passes is listed by `secrets-broker --help` (the
// binary built from this repository), and the whole argument list, with the
// container's env, parses and validates with the broker's own config code.
func TestChartBrokerFlags(t *testing.T) {
	known := brokerHelpFlags(t)
	for _, vs := range brokerSets {
		t.Run(vs.name, func(t *testing.T) {
			objs := objectsOf(t, render.Manifests(renderBroker(t, vs)))
			ds := typed[appsv1.DaemonSet](t, findObject(t, objs, "DaemonSet", ""))
			c := ds.Spec.Template.Spec.Containers[0]
			for _, a := range c.Args {
				name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
				if !strings.HasPrefix(a, "--") || !known[name] {
					t.Errorf("DaemonSet passes %q; secrets-broker --help lists no such flag", a)
				}
			}
			// The container's env as kubelet would set it; NODE_NAME comes
			// from the downward API.
			for _, e := range c.Env {
				v := e.Value
				if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
					v = "node-a"
				}
				t.Setenv(e.Name, v)
			}
			var f config.Flags
			fs := flag.NewFlagSet("secrets-broker", flag.ContinueOnError)
			f.Bind(fs)
			if err := fs.Parse(c.Args); err != nil {
				t.Fatalf("broker flag parsing refuses the DaemonSet args: %v\n%s", err, strings.Join(c.Args, "\n"))
			}
			if fs.NArg() != 0 {
				t.Errorf("stray arguments %v", fs.Args())
			}
			if _, err := f.Validate(); err != nil {
				t.Errorf("broker refuses the DaemonSet's configuration: %v", err)
			}
		})
	}
}

var helpFlagRE = regexp.MustCompile(`(?m)^\s+-([a-z0-9][-a-z0-9]*)`)

// brokerHelpFlags builds cmd/secrets-broker from the product module and
// returns the flags its --help lists.
func brokerHelpFlags(t *testing.T) map[string]bool {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "secrets-broker")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/secrets-broker")
	build.Dir = repoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build secrets-broker: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(t.Context(), bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("secrets-broker --help: %v\n%s", err, out)
	}
	known := map[string]bool{}
	for _, m := range helpFlagRE.FindAllStringSubmatch(string(out), -1) {
		known[m[1]] = true
	}
	if len(known) < 10 || !known["socket-path"] {
		t.Fatalf("could not read the flags from --help:\n%s", out)
	}
	return known
}

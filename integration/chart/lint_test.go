package chart

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"helm.sh/helm/v4/pkg/action"

	"github.com/secrets-broker/secrets-broker/integration/chart/render"
)

// TestChartLint runs `helm lint --strict` (the SDK's action.Lint): warnings
// fail too. The broker chart is linted with every value set, the library
// chart as it is, the example with the library where `helm dependency
// build` would put it.
func TestChartLint(t *testing.T) {
	for _, vs := range brokerSets {
		t.Run("secrets-broker/"+vs.name, func(t *testing.T) {
			vals, err := render.Values(vs.values)
			if err != nil {
				t.Fatal(err)
			}
			lint(t, chartDir(t, brokerChart), vs.namespace, vals)
		})
	}
	t.Run("secrets-broker-client", func(t *testing.T) {
		lint(t, chartDir(t, clientChart), "default", nil)
	})
	for _, es := range exampleSets {
		t.Run("tokenizer-dp/"+es.name, func(t *testing.T) {
			vals, err := render.Values(es.values)
			if err != nil {
				t.Fatal(err)
			}
			lint(t, exampleWithLibrary(t), "tokenizer-dp", vals)
		})
	}
}

func lint(t *testing.T, dir, namespace string, vals map[string]any) {
	t.Helper()
	l := action.NewLint()
	l.Strict = true
	l.Namespace = namespace
	res := l.Run([]string{dir}, vals)
	for _, m := range res.Messages {
		t.Logf("lint: %s", m.Error())
	}
	if res.TotalChartsLinted != 1 {
		t.Errorf("linted %d charts, want 1", res.TotalChartsLinted)
	}
	for _, err := range res.Errors {
		t.Errorf("lint (strict): %v", err)
	}
}

// exampleWithLibrary copies the example chart to a temp dir and the library
// chart into its charts/, as `helm dependency build` would (the repository
// keeps one copy of the library).
func exampleWithLibrary(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "tokenizer-dp")
	copyDir(t, chartDir(t, exampleChart), dst)
	copyDir(t, chartDir(t, clientChart), filepath.Join(dst, "charts", "secrets-broker-client"))
	return dst
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}

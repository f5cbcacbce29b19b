package chart

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	commonutil "helm.sh/helm/v4/pkg/chart/common/util"

	"github.com/secrets-broker/secrets-broker/integration/chart/render"
)

// brokerValues is vs merged over the chart's values.yaml, as the templates
// see them.
func brokerValues(t *testing.T, vs valueSet) map[string]any {
	t.Helper()
	c, err := render.Load(chartDir(t, brokerChart))
	if err != nil {
		t.Fatal(err)
	}
	vals, err := render.Values(vs.values)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := commonutil.CoalesceValues(c, vals)
	if err != nil {
		t.Fatal(err)
	}
	return merged
}

func lookup(vals map[string]any, path ...string) (any, bool) {
	var cur any = vals
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, cur != nil
}

func str(vals map[string]any, path ...string) string {
	v, _ := lookup(vals, path...)
	s, _ := v.(string)
	return s
}

func boolean(vals map[string]any, path ...string) bool {
	v, _ := lookup(vals, path...)
	b, _ := v.(bool)
	return b
}

// num reads an integer value (YAML numbers arrive as int64 or float64).
func num(vals map[string]any, path ...string) (int, bool) {
	v, ok := lookup(vals, path...)
	if !ok {
		return 0, false
	}
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	}
	return 0, false
}

func itoa(i int) string { return fmt.Sprint(i) }

func unstructuredMap(obj map[string]any, path ...string) (map[string]string, bool, error) {
	v, ok := lookup(obj, path...)
	if !ok {
		return nil, false, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false, fmt.Errorf("%v is not a map", path)
	}
	out := map[string]string{}
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out, true, nil
}

// mountedAt returns the name of the volume c mounts at path ("" if none).
func mountedAt(t *testing.T, c corev1.Container, path string) string {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return m.Name
		}
	}
	t.Errorf("container %s mounts nothing at %s", c.Name, path)
	return ""
}

func volumeByName(vols []corev1.Volume, name string) *corev1.Volume {
	for i := range vols {
		if vols[i].Name == name {
			return &vols[i]
		}
	}
	return nil
}

func hasExistsToleration(ts []corev1.Toleration) bool {
	for _, tol := range ts {
		if tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == "" {
			return true
		}
	}
	return false
}

func containsInt64(xs []int64, x int64) bool { return slices.Contains(xs, x) }

// ptrIntOrString makes an *intstr.IntOrString from an int or a string.
func ptrIntOrString(v any) *intstr.IntOrString {
	var x intstr.IntOrString
	switch v := v.(type) {
	case int:
		x = intstr.FromInt32(int32(v))
	case string:
		x = intstr.FromString(v)
	default:
		panic(fmt.Sprintf("ptrIntOrString(%T)", v))
	}
	return &x
}

func ptrProto(p corev1.Protocol) *corev1.Protocol { return &p }

// selects reports whether every selector label is among labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

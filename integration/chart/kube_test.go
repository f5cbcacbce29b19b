package chart

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/secrets-broker/secrets-broker/integration/chart/render"
)

const fieldManager = "secrets-broker-chart-test"

// object is one rendered object and the template it came from.
type object struct {
	*unstructured.Unstructured
	template string
}

// objectsOf parses every document of ts.
func objectsOf(t *testing.T, ts []render.Template) []object {
	t.Helper()
	var objs []object
	for _, tpl := range ts {
		for _, doc := range render.Documents(tpl.Content) {
			js, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				t.Fatalf("%s: not YAML: %v\n%s", tpl.Name, err, doc)
			}
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(js); err != nil {
				t.Fatalf("%s: not a Kubernetes object: %v\n%s", tpl.Name, err, doc)
			}
			objs = append(objs, object{Unstructured: u, template: tpl.Name})
		}
	}
	return objs
}

// findObject returns the one object of kind (and name, unless empty).
func findObject(t *testing.T, objs []object, kind, name string) object {
	t.Helper()
	var found []object
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s %q, found %d", kind, name, len(found))
	}
	return found[0]
}

func countKind(objs []object, kind string) int {
	n := 0
	for _, o := range objs {
		if o.GetKind() == kind {
			n++
		}
	}
	return n
}

// kube bundles the clients the apply tests use.
type kube struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

var (
	kubeOnce sync.Once
	kubeC    *kube
	kubeErr  error
)

// kubeClients builds the dynamic client and REST mapper once and installs
// what the value sets refer to: the ServiceMonitor CRD (the test apiserver
// has no Prometheus Operator) and the PriorityClasses.
func kubeClients(t *testing.T) *kube {
	t.Helper()
	kubeOnce.Do(func() { kubeC, kubeErr = newKube(context.Background()) })
	if kubeErr != nil {
		t.Fatal(kubeErr)
	}
	return kubeC
}

func newKube(ctx context.Context) (*kube, error) {
	cfg := testEnv.AdminRESTConfig()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	k := &kube{
		dyn:    dyn,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(testEnv.AdminClient().Discovery())),
	}
	if err := k.installServiceMonitorCRD(ctx); err != nil {
		return nil, err
	}
	for _, vs := range brokerSets {
		if vs.priorityClass == "" {
			continue
		}
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: vs.priorityClass}, Value: 1000000}
		_, err := testEnv.AdminClient().SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create priority class %s: %w", vs.priorityClass, err)
		}
	}
	return k, nil
}

// serviceMonitorCRD is a minimal monitoring.coreos.com/v1 ServiceMonitor
// CRD: the schema preserves unknown fields, so strict field validation still
// checks the object's metadata and the apply path, not the operator's spec.
const serviceMonitorCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`

func (k *kube) installServiceMonitorCRD(ctx context.Context) error {
	js, err := yaml.YAMLToJSON([]byte(serviceMonitorCRD))
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		return err
	}
	if _, err := k.apply(ctx, u); err != nil {
		return fmt.Errorf("install ServiceMonitor CRD: %w", err)
	}
	gk := schema.GroupKind{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		k.mapper.Reset()
		m, err := k.mapper.RESTMapping(gk, "v1")
		if err == nil {
			_, err = k.dyn.Resource(m.Resource).Namespace("default").List(ctx, metav1.ListOptions{})
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ServiceMonitor CRD not served: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// apply server-side applies u with strict field validation and returns the
// object as the apiserver stored it (read back with a GET).
func (k *kube) apply(ctx context.Context, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvk := u.GroupVersionKind()
	m, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s: no such resource on the apiserver: %w", gvk, err)
	}
	var ri dynamic.ResourceInterface = k.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if u.GetNamespace() == "" {
			return nil, fmt.Errorf("%s %s: namespaced object without a namespace (the chart must set it)", gvk.Kind, u.GetName())
		}
		ri = k.dyn.Resource(m.Resource).Namespace(u.GetNamespace())
	} else if u.GetNamespace() != "" {
		return nil, fmt.Errorf("%s %s: cluster-scoped object with namespace %q", gvk.Kind, u.GetName(), u.GetNamespace())
	}
	body, err := u.MarshalJSON()
	if err != nil {
		return nil, err
	}
	_, err = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
		FieldManager:    fieldManager,
		Force:           ptr.To(true),
		FieldValidation: metav1.FieldValidationStrict,
	})
	if err != nil {
		return nil, fmt.Errorf("apply %s %s/%s: %w", gvk.Kind, u.GetNamespace(), u.GetName(), err)
	}
	got, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read back %s %s/%s: %w", gvk.Kind, u.GetNamespace(), u.GetName(), err)
	}
	return got, nil
}

// applyAll creates the namespaces the objects need (labelled with the Pod
// Security level the broker needs, as NOTES.txt asks) and applies every
// object, returning the read-back objects in the same order.
func (k *kube) applyAll(t *testing.T, objs []object) []object {
	t.Helper()
	seen := map[string]bool{}
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && !seen[ns] {
			seen[ns] = true
			ensureNamespace(t, ns, map[string]string{"pod-security.kubernetes.io/enforce": "privileged"})
		}
	}
	var out []object
	for _, o := range objs {
		got, err := k.apply(t.Context(), o.Unstructured)
		if err != nil {
			t.Fatalf("%s: %v", o.template, err)
		}
		out = append(out, object{Unstructured: got, template: o.template})
	}
	return out
}

// ensureNamespace creates ns with labels, or adds the labels to it.
func ensureNamespace(t *testing.T, ns string, labels map[string]string) {
	t.Helper()
	c := testEnv.AdminClient().CoreV1().Namespaces()
	got, err := c.Get(t.Context(), ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create namespace %s: %v", ns, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("get namespace %s: %v", ns, err)
	}
	if got.Labels == nil {
		got.Labels = map[string]string{}
	}
	for k, v := range labels {
		got.Labels[k] = v
	}
	if _, err := c.Update(t.Context(), got, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("label namespace %s: %v", ns, err)
	}
}

// typed converts a read-back object into its API type.
func typed[T any](t *testing.T, o object) *T {
	t.Helper()
	var v T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, &v, true); err != nil {
		t.Fatalf("%s %s: convert: %v", o.GetKind(), o.GetName(), err)
	}
	return &v
}

// createPodFrom creates a pod from a workload's pod template on a node no
// kubelet serves: the apiserver's admission (ServiceAccount, Priority, Pod
// Security) and pod validation run on the spec as the controller would
// submit it; the pod then stays Pending.
func createPodFrom(ctx context.Context, ns string, tmpl corev1.PodTemplateSpec) (*corev1.Pod, error) {
	pod := &corev1.Pod{ObjectMeta: *tmpl.ObjectMeta.DeepCopy(), Spec: *tmpl.Spec.DeepCopy()}
	pod.Name = uniq("pod")
	pod.Namespace = ns
	pod.Spec.NodeName = "node-a"
	return testEnv.AdminClient().CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
}

// mustContainAll fails unless s contains every want.
func mustContainAll(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s: %q lacks %q", what, s, w)
		}
	}
}

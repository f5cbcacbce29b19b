package chart

import (
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/secrets-broker/secrets-broker/integration/chart/render"
	"github.com/secrets-broker/secrets-broker/integration/env"
)

// TestChartApplyBroker renders the broker chart with every value set,
// server-side applies every object to the real kube-apiserver with strict
// field validation, and checks what the apiserver stored.
func TestChartApplyBroker(t *testing.T) {
	k := kubeClients(t)
	for _, vs := range brokerSets {
		t.Run(vs.name, func(t *testing.T) {
			vals := brokerValues(t, vs)
			rendered := objectsOf(t, render.Manifests(renderBroker(t, vs)))
			if vs.name == "defaults" {
				// As `kubectl apply -k deploy/` would: the hand-written
				// namespace first.
				ensureNamespace(t, vs.namespace, map[string]string{"pod-security.kubernetes.io/enforce": "privileged"})
			}
			objs := k.applyAll(t, rendered)
			if len(objs) != len(rendered) {
				t.Fatalf("applied %d of %d objects", len(objs), len(rendered))
			}
			for _, o := range objs {
				t.Logf("applied %s %s/%s (from %s)", o.GetKind(), o.GetNamespace(), o.GetName(), o.template)
			}
			checkRBAC(t, vs, objs)
			ds := typed[appsv1.DaemonSet](t, findObject(t, objs, "DaemonSet", ""))
			checkDaemonSet(t, vs, vals, ds)
			checkService(t, vs, vals, objs, ds)
			checkNetworkPolicy(t, vals, objs, ds)
			checkServiceMonitor(t, vs, vals, objs)
			pod, err := createPodFrom(t.Context(), vs.namespace, ds.Spec.Template)
			if err != nil {
				t.Fatalf("the apiserver refuses a pod from the DaemonSet's template: %v", err)
			}
			if pod.Spec.PriorityClassName != "" && pod.Spec.Priority == nil {
				t.Error("priority class set but no priority resolved")
			}
		})
	}
}

// TestChartBrokerNeedsPrivilegedNamespace proves the chart's note: Pod
// Security "baseline" refuses the broker pod (hostPID, hostPath), whatever
// the container securityContext says.
func TestChartBrokerNeedsPrivilegedNamespace(t *testing.T) {
	ns := uniq("sb-baseline")
	ensureNamespace(t, ns, map[string]string{"pod-security.kubernetes.io/enforce": "baseline"})
	vs := valueSet{name: "baseline", release: "sb-baseline", namespace: ns}
	objs := kubeClients(t).applyAll(t, objectsOf(t, render.Manifests(renderBroker(t, vs))))
	ds := typed[appsv1.DaemonSet](t, findObject(t, objs, "DaemonSet", ""))
	ensureNamespace(t, ns, map[string]string{"pod-security.kubernetes.io/enforce": "baseline"})
	_, err := createPodFrom(t.Context(), ns, ds.Spec.Template)
	if err == nil {
		t.Fatal("a baseline namespace accepted the broker pod")
	}
	mustContainAll(t, "pod security error", err.Error(), "hostPID", "hostPath")
}

func checkRBAC(t *testing.T, vs valueSet, objs []object) {
	t.Helper()
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
	}
	if countKind(objs, "ClusterRole") != 1 || countKind(objs, "Role") != 0 || countKind(objs, "RoleBinding") != 0 {
		t.Errorf("want exactly one ClusterRole and no Role/RoleBinding")
	}
	cr := typed[rbacv1.ClusterRole](t, findObject(t, objs, "ClusterRole", ""))
	if !reflect.DeepEqual(cr.Rules, want) {
		t.Errorf("ClusterRole rules = %+v, want exactly %+v", cr.Rules, want)
	}
	if !reflect.DeepEqual(cr.Rules, env.BrokerRules) {
		t.Errorf("chart rules differ from env.BrokerRules, which the integration tests run the broker with")
	}
	crb := typed[rbacv1.ClusterRoleBinding](t, findObject(t, objs, "ClusterRoleBinding", ""))
	sa := findObject(t, objs, "ServiceAccount", "")
	wantSubj := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.GetName(), Namespace: vs.namespace}}
	if crb.RoleRef.Name != cr.Name || crb.RoleRef.Kind != "ClusterRole" || !reflect.DeepEqual(crb.Subjects, wantSubj) {
		t.Errorf("ClusterRoleBinding = %+v %+v, want %s bound to %+v", crb.RoleRef, crb.Subjects, cr.Name, wantSubj)
	}
}

func checkDaemonSet(t *testing.T, vs valueSet, vals map[string]any, ds *appsv1.DaemonSet) {
	t.Helper()
	spec := ds.Spec.Template.Spec
	if !spec.HostPID {
		t.Error("DaemonSet lacks hostPID")
	}
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru == nil ||
		!reflect.DeepEqual(ru.MaxSurge, ptrIntOrString(1)) || !reflect.DeepEqual(ru.MaxUnavailable, ptrIntOrString(0)) {
		t.Errorf("update strategy = %+v, want RollingUpdate maxSurge 1 maxUnavailable 0", ds.Spec.UpdateStrategy)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(spec.Containers))
	}
	c := spec.Containers[0]
	hostDir := str(vals, "socket", "hostDir")
	hostType := corev1.HostPathType(str(vals, "socket", "hostPathType"))
	vol := volumeByName(spec.Volumes, mountedAt(t, c, hostDir))
	if vol == nil || vol.HostPath == nil || vol.HostPath.Path != hostDir || vol.HostPath.Type == nil || *vol.HostPath.Type != hostType {
		t.Errorf("socket volume = %+v, want hostPath %s type %s mounted at the same path", vol, hostDir, hostType)
	}
	checkEnv(t, c.Env)
	checkRestricted(t, spec.SecurityContext, c.SecurityContext)
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Port != intstr.FromString("admin") {
			t.Errorf("probe %+v is not an HTTP GET on the admin port", p)
		}
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v, want cpu request and memory limit", c.Resources)
	}
	if !hasExistsToleration(spec.Tolerations) {
		t.Errorf("tolerations = %+v, want operator Exists (every node)", spec.Tolerations)
	}
	if want := str(vals, "priorityClassName"); spec.PriorityClassName != want {
		t.Errorf("priorityClassName = %q, want %q", spec.PriorityClassName, want)
	}
	if d := str(vals, "image", "digest"); d != "" && !strings.HasSuffix(c.Image, "@"+d) {
		t.Errorf("image = %q, want digest %s", c.Image, d)
	}
	args := strings.Join(c.Args, " ")
	mustContainAll(t, "args", args, "--socket-path="+strings.TrimSuffix(hostDir, "/")+"/"+str(vals, "socket", "name"))
	if g, ok := num(vals, "socket", "group"); ok {
		mustContainAll(t, "args", args, "--socket-group="+itoa(g))
		if sc := spec.SecurityContext; sc == nil || !containsInt64(sc.SupplementalGroups, int64(g)) {
			t.Errorf("socket.group %d is not among the pod's supplementalGroups", g)
		}
	}
	checkArgFilesMounted(t, c, spec.Volumes)
}

// checkArgFilesMounted: every file flag points into a mounted volume of the
// right source.
func checkArgFilesMounted(t *testing.T, c corev1.Container, vols []corev1.Volume) {
	t.Helper()
	for _, a := range c.Args {
		name, val, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		switch name {
		case "policy-file", "tls-cert", "tls-key", "vault-cacert":
		default:
			continue
		}
		dir := val[:strings.LastIndex(val, "/")]
		v := volumeByName(vols, mountedAt(t, c, dir))
		if v == nil {
			t.Errorf("--%s=%s: directory not mounted", name, val)
			continue
		}
		switch {
		case name == "policy-file" && v.ConfigMap == nil,
			strings.HasPrefix(name, "tls-") && v.Secret == nil,
			name == "vault-cacert" && v.ConfigMap == nil && v.Secret == nil:
			t.Errorf("--%s=%s: volume %s has the wrong source %+v", name, val, v.Name, v.VolumeSource)
		}
	}
}

func checkEnv(t *testing.T, envs []corev1.EnvVar) {
	t.Helper()
	for _, e := range envs {
		if e.Name == "NODE_NAME" {
			if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
				t.Errorf("NODE_NAME = %+v, want the downward API's spec.nodeName", e)
			}
			return
		}
	}
	t.Error("no NODE_NAME env")
}

// checkRestricted: the container securityContext of Pod Security
// "restricted", except the uid (see values.yaml for why uid 0).
func checkRestricted(t *testing.T, pod *corev1.PodSecurityContext, c *corev1.SecurityContext) {
	t.Helper()
	if c == nil {
		t.Fatal("no container securityContext")
	}
	if c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if c.Privileged != nil && *c.Privileged {
		t.Error("privileged")
	}
	if c.ReadOnlyRootFilesystem == nil || !*c.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if c.Capabilities == nil || !reflect.DeepEqual(c.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(c.Capabilities.Add) != 0 {
		t.Errorf("capabilities = %+v, want drop [ALL] and nothing added", c.Capabilities)
	}
	seccomp := c.SeccompProfile
	if seccomp == nil && pod != nil {
		seccomp = pod.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile = %+v, want RuntimeDefault", seccomp)
	}
}

func checkService(t *testing.T, vs valueSet, vals map[string]any, objs []object, ds *appsv1.DaemonSet) {
	t.Helper()
	var svcs []*corev1.Service
	for _, o := range objs {
		if o.GetKind() == "Service" && o.template == "templates/service.yaml" {
			svcs = append(svcs, typed[corev1.Service](t, o))
		}
	}
	if !boolean(vals, "tcp", "enabled") {
		if len(svcs) != 0 {
			t.Error("tcp.enabled false but a broker Service was rendered")
		}
		mustContainAll(t, "args", strings.Join(ds.Spec.Template.Spec.Containers[0].Args, " "), "--listen-addr= ")
		return
	}
	if len(svcs) != 1 {
		t.Fatalf("want one broker Service, got %d", len(svcs))
	}
	s := svcs[0]
	if s.Spec.InternalTrafficPolicy == nil || *s.Spec.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyLocal {
		t.Errorf("internalTrafficPolicy = %v, want Local", s.Spec.InternalTrafficPolicy)
	}
	port, _ := num(vals, "tcp", "port")
	if len(s.Spec.Ports) != 1 || int(s.Spec.Ports[0].Port) != port || s.Spec.Ports[0].TargetPort != intstr.FromString("broker") {
		t.Errorf("ports = %+v, want %d -> broker", s.Spec.Ports, port)
	}
	if !selects(s.Spec.Selector, ds.Spec.Template.Labels) {
		t.Errorf("selector %v does not select the broker pods %v", s.Spec.Selector, ds.Spec.Template.Labels)
	}
	if vs.name == "defaults" && s.Name+"."+s.Namespace != "secrets-broker.secrets-broker" {
		t.Errorf("default Service is %s.%s, want the ADR's secrets-broker.secrets-broker", s.Name, s.Namespace)
	}
}

func checkNetworkPolicy(t *testing.T, vals map[string]any, objs []object, ds *appsv1.DaemonSet) {
	t.Helper()
	np := typed[networkingv1.NetworkPolicy](t, findObject(t, objs, "NetworkPolicy", ""))
	if !selects(np.Spec.PodSelector.MatchLabels, ds.Spec.Template.Labels) {
		t.Errorf("podSelector %v does not select the broker pods", np.Spec.PodSelector)
	}
	key := str(vals, "networkPolicy", "clientNamespaceLabel", "key")
	val := str(vals, "networkPolicy", "clientNamespaceLabel", "value")
	var fromLabel []networkingv1.NetworkPolicyIngressRule
	for _, r := range np.Spec.Ingress {
		for _, p := range r.From {
			if p.NamespaceSelector != nil && p.NamespaceSelector.MatchLabels[key] == val {
				fromLabel = append(fromLabel, r)
			}
		}
		for _, p := range r.Ports {
			if p.Port == nil || (p.Port.StrVal != "broker" && p.Port.StrVal != "admin") {
				t.Errorf("ingress port %+v is neither broker nor admin", p)
			}
		}
	}
	if !boolean(vals, "tcp", "enabled") {
		if len(fromLabel) != 0 {
			t.Error("tcp off, yet the broker port is open to client namespaces")
		}
		return
	}
	want := []networkingv1.NetworkPolicyPort{{Port: ptrIntOrString("broker"), Protocol: ptrProto(corev1.ProtocolTCP)}}
	if len(fromLabel) != 1 || len(fromLabel[0].From) != 1 || !reflect.DeepEqual(fromLabel[0].Ports, want) {
		t.Errorf("ingress = %+v, want one rule from namespaces labelled %s=%s to port broker", np.Spec.Ingress, key, val)
	}
}

func checkServiceMonitor(t *testing.T, vs valueSet, vals map[string]any, objs []object) {
	t.Helper()
	if !boolean(vals, "serviceMonitor", "enabled") {
		if countKind(objs, "ServiceMonitor") != 0 {
			t.Error("ServiceMonitor rendered while disabled")
		}
		return
	}
	sm := findObject(t, objs, "ServiceMonitor", "")
	want := str(vals, "serviceMonitor", "namespace")
	if want == "" {
		want = vs.namespace
	}
	if sm.GetNamespace() != want {
		t.Errorf("ServiceMonitor namespace %q, want %q", sm.GetNamespace(), want)
	}
	var metrics *corev1.Service
	for _, o := range objs {
		if o.GetKind() == "Service" && o.template == "templates/metrics-service.yaml" {
			metrics = typed[corev1.Service](t, o)
		}
	}
	if metrics == nil || metrics.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Fatalf("want a headless metrics Service, got %+v", metrics)
	}
	sel, _, _ := unstructuredMap(sm.Object, "spec", "selector", "matchLabels")
	if !selects(sel, metrics.Labels) {
		t.Errorf("ServiceMonitor selector %v does not select the metrics Service %v", sel, metrics.Labels)
	}
}

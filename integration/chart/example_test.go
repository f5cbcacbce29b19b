package chart

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/secrets-broker/secrets-broker/integration/chart/render"
)

// TestChartApplyExample renders the example consumer (library chart
// attached), applies it to the real apiserver and checks the pod spec the
// three includes produced against the broker chart's defaults.
func TestChartApplyExample(t *testing.T) {
	k := kubeClients(t)
	broker := brokerDefaults(t)
	for _, es := range exampleSets {
		t.Run(es.name, func(t *testing.T) {
			ts, err := renderExample(t, es.release, es.values)
			if err != nil {
				t.Fatal(err)
			}
			rendered := objectsOf(t, render.Manifests(ts))
			objs := k.applyAll(t, rendered)
			if len(objs) != 2 || countKind(objs, "Deployment") != 1 || countKind(objs, "ServiceAccount") != 1 {
				t.Fatalf("want a Deployment and a ServiceAccount, got %d objects", len(objs))
			}
			dep := typed[appsv1.Deployment](t, findObject(t, objs, "Deployment", ""))
			spec := dep.Spec.Template.Spec
			if spec.ServiceAccountName != "tokenizer-dp-sa" {
				t.Errorf("serviceAccountName = %q, want the policy's tokenizer-dp-sa", spec.ServiceAccountName)
			}
			c := spec.Containers[0]
			tokenDir := "/var/run/secrets/broker-token"
			tokVol := volumeByName(spec.Volumes, mountedAt(t, c, tokenDir))
			wantExp := int64(3600)
			if strings.Contains(es.values, "expirationSeconds: 7200") {
				wantExp = 7200
			}
			checkProjectedToken(t, tokVol, wantExp)
			env := envMap(c.Env)
			if got := env["SECRETS_BROKER_TOKEN_PATH"]; got != tokenDir+"/token" {
				t.Errorf("SECRETS_BROKER_TOKEN_PATH = %q, want %s/token", got, tokenDir)
			}
			var wantURL string
			sockVol := volumeByName(spec.Volumes, "secrets-broker-socket")
			switch es.transport {
			case "socket":
				wantURL = "unix://" + broker.socketPath
				if sockVol == nil || sockVol.HostPath == nil || sockVol.HostPath.Path != broker.socketDir {
					t.Errorf("socket volume = %+v, want hostPath %s (the broker's socket.hostDir)", sockVol, broker.socketDir)
				}
				for _, m := range c.VolumeMounts {
					if m.Name == "secrets-broker-socket" && (m.MountPath != broker.socketDir || !m.ReadOnly) {
						t.Errorf("socket mount = %+v, want %s read-only", m, broker.socketDir)
					}
				}
			case "tcp":
				wantURL = "http://" + broker.serviceHost
				if sockVol != nil {
					t.Errorf("transport tcp, yet the socket hostPath is mounted: %+v", sockVol)
				}
			}
			if got := env["SECRETS_BROKER_URL"]; got != wantURL {
				t.Errorf("SECRETS_BROKER_URL = %q, want %q", got, wantURL)
			}
			if _, err := createPodFrom(t.Context(), "tokenizer-dp", dep.Spec.Template); err != nil {
				t.Fatalf("the apiserver refuses a pod from the example's template: %v", err)
			}
		})
	}
}

// TestChartExampleTCPUnderRestricted: with transport "tcp" the consumer pod
// passes Pod Security "restricted"; with "socket" the hostPath keeps it out
// (the example's values.yaml says so).
func TestChartExampleTCPUnderRestricted(t *testing.T) {
	ns := uniq("tokenizer-restricted")
	ensureNamespace(t, ns, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	if err := testEnv.CreateTenant(t.Context(), ns, "tokenizer-dp-sa"); err != nil {
		t.Fatal(err)
	}
	for _, es := range exampleSets {
		t.Run(es.transport, func(t *testing.T) {
			ts, err := renderExample(t, es.release, es.values)
			if err != nil {
				t.Fatal(err)
			}
			dep := typed[appsv1.Deployment](t, findObject(t, objectsOf(t, render.Manifests(ts)), "Deployment", ""))
			_, err = createPodFrom(t.Context(), ns, dep.Spec.Template)
			switch {
			case es.transport == "tcp" && err != nil:
				t.Fatalf("restricted namespace refuses the tcp consumer: %v", err)
			case es.transport == "socket" && err == nil:
				t.Fatal("restricted namespace accepted a hostPath consumer")
			case es.transport == "socket":
				mustContainAll(t, "pod security error", err.Error(), "hostPath")
			}
		})
	}
}

func checkProjectedToken(t *testing.T, v *corev1.Volume, exp int64) {
	t.Helper()
	if v == nil || v.Projected == nil || len(v.Projected.Sources) != 1 || v.Projected.Sources[0].ServiceAccountToken == nil {
		t.Fatalf("token volume = %+v, want one projected serviceAccountToken", v)
	}
	sat := v.Projected.Sources[0].ServiceAccountToken
	if sat.Audience != "secrets-broker" || sat.Path != "token" || sat.ExpirationSeconds == nil || *sat.ExpirationSeconds != exp {
		t.Errorf("serviceAccountToken = %+v, want audience secrets-broker, path token, expirationSeconds %d", sat, exp)
	}
}

func envMap(envs []corev1.EnvVar) map[string]string {
	m := map[string]string{}
	for _, e := range envs {
		m[e.Name] = e.Value
	}
	return m
}

// brokerEndpoints is where the broker chart's defaults put the socket and
// the Service, which the library chart's defaults must match.
type brokerEndpoints struct {
	socketDir, socketPath, serviceHost string
}

func brokerDefaults(t *testing.T) brokerEndpoints {
	t.Helper()
	vs := valueSet{release: "secrets-broker", namespace: "secrets-broker"}
	vals := brokerValues(t, vs)
	objs := objectsOf(t, render.Manifests(renderBroker(t, vs)))
	svc := typed[corev1.Service](t, findObject(t, objs, "Service", ""))
	dir := str(vals, "socket", "hostDir")
	return brokerEndpoints{
		socketDir:   dir,
		socketPath:  dir + "/" + str(vals, "socket", "name"),
		serviceHost: fmt.Sprintf("%s.%s.svc.cluster.local:%d", svc.Name, svc.Namespace, svc.Spec.Ports[0].Port),
	}
}

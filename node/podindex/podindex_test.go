package podindex

import (
	"context"
	"net/netip"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

const node = "node-a"

func pod(name, uid string, phase corev1.PodPhase, ips ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "tokenizer-dp", UID: types.UID(uid),
			Labels: map[string]string{"app": name}, Annotations: map[string]string{"big": "x"}},
		Spec: corev1.PodSpec{NodeName: node, ServiceAccountName: "dp",
			Containers: []corev1.Container{{Name: "c", Image: "img"}}},
		Status: corev1.PodStatus{Phase: phase},
	}
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	return p
}

// start runs an index over a fake clientset holding objs and waits until
// the informer's watch is open, so later changes are seen.
func start(t *testing.T, objs ...*corev1.Pod) (*Index, *fake.Clientset, chan Pod) {
	t.Helper()
	client := fake.NewClientset()
	for _, o := range objs {
		client.Tracker().Add(o)
	}
	x := New(client, node, 0)
	deleted := make(chan Pod, 10)
	x.OnDelete(func(p Pod) { deleted <- p })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { x.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := x.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !watching(client); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("informer never watched")
		}
	}
	return x, client, deleted
}

func watching(c *fake.Clientset) bool {
	for _, a := range c.Actions() {
		if a.GetVerb() == "watch" && a.GetResource().Resource == "pods" {
			return true
		}
	}
	return false
}

func TestFieldSelector(t *testing.T) {
	_, client, _ := start(t)
	for _, a := range client.Actions() {
		var got string
		switch a := a.(type) {
		case k8stesting.ListAction:
			got = a.GetListRestrictions().Fields.String()
		case k8stesting.WatchAction:
			got = a.GetWatchRestrictions().Fields.String()
		default:
			continue
		}
		if got != "spec.nodeName="+node {
			t.Errorf("%s pods with field selector %q", a.GetVerb(), got)
		}
	}
}

func TestByUID(t *testing.T) {
	x, _, _ := start(t,
		pod("p1", "uid-1", corev1.PodRunning, "10.0.0.5", "fd00::5"),
		pod("done", "uid-2", corev1.PodSucceeded, "10.0.0.6"),
	)
	tests := []struct {
		uid    string
		wantOK bool
		want   Pod
	}{
		{"uid-1", true, Pod{UID: "uid-1", Namespace: "tokenizer-dp", Name: "p1", ServiceAccount: "dp", NodeName: node,
			IPs: []netip.Addr{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("fd00::5")}}},
		{"uid-2", false, Pod{}}, // terminal
		{"uid-3", false, Pod{}},
	}
	for _, tt := range tests {
		t.Run(tt.uid, func(t *testing.T) {
			got, ok := x.ByUID(tt.uid)
			if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ByUID() = %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
	if n := x.Pods(); n != 2 {
		t.Fatalf("Pods() = %d, want 2", n)
	}
}

func TestStripKeepsOnlyWhatIsNeeded(t *testing.T) {
	out, _ := strip(pod("p1", "uid-1", corev1.PodRunning, "10.0.0.5"))
	p := out.(*corev1.Pod)
	if len(p.Spec.Containers) != 0 || p.Labels != nil || p.Annotations != nil {
		t.Fatalf("strip kept too much: %+v", p)
	}
	if again, _ := strip(p); !reflect.DeepEqual(again, p) {
		t.Fatal("strip is not idempotent")
	}
	tomb := cache.DeletedFinalStateUnknown{Key: "a/b"}
	if got, _ := strip(tomb); got != tomb {
		t.Fatal("strip changed a tombstone")
	}
}

func TestOnDelete(t *testing.T) {
	ctx := context.Background()
	gvr := corev1.SchemeGroupVersion.WithResource("pods")
	tests := []struct {
		name string
		gone bool // the store no longer holds (or returns) the pod
		act  func(t *testing.T, x *Index, c *fake.Clientset)
	}{
		{"deleted", true, func(t *testing.T, _ *Index, c *fake.Clientset) {
			if err := c.CoreV1().Pods("tokenizer-dp").Delete(ctx, "p1", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"succeeded", true, func(t *testing.T, _ *Index, c *fake.Clientset) {
			if err := c.Tracker().Update(gvr, pod("p1", "uid-1", corev1.PodSucceeded), "tokenizer-dp"); err != nil {
				t.Fatal(err)
			}
		}},
		{"failed", true, func(t *testing.T, _ *Index, c *fake.Clientset) {
			if err := c.Tracker().Update(gvr, pod("p1", "uid-1", corev1.PodFailed), "tokenizer-dp"); err != nil {
				t.Fatal(err)
			}
		}},
		{"tombstone", false, func(_ *testing.T, x *Index, _ *fake.Clientset) {
			// What a relist delivers for a deletion the watch missed.
			x.deleted(cache.DeletedFinalStateUnknown{Key: "tokenizer-dp/p1", Obj: pod("p1", "uid-1", corev1.PodRunning)})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, c, deleted := start(t, pod("p1", "uid-1", corev1.PodRunning, "10.0.0.5"))
			tt.act(t, x, c)
			select {
			case p := <-deleted:
				if p.UID != "uid-1" || p.Name != "p1" || p.Namespace != "tokenizer-dp" {
					t.Fatalf("OnDelete got %+v", p)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("OnDelete not called")
			}
			if _, ok := x.ByUID("uid-1"); ok && tt.gone {
				t.Fatal("ByUID still finds the pod")
			}
		})
	}
}

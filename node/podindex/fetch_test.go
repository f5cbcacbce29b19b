package podindex

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func TestFetch(t *testing.T) {
	mk := func(name, uid, node string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("u-" + uid)},
			Spec: corev1.PodSpec{NodeName: node, ServiceAccountName: "sa"}, Status: corev1.PodStatus{Phase: phase}}
	}
	client := fake.NewClientset(mk("here", "1", "node-a", corev1.PodRunning), mk("there", "2", "node-b", corev1.PodRunning), mk("done", "3", "node-a", corev1.PodSucceeded))
	x := New(client, "node-a", 0)
	tests := []struct {
		name, pod, uid string
		want           bool
	}{
		{"on this node", "here", "u-1", true},
		{"uid differs (recreated pod)", "here", "u-9", false},
		{"other node", "there", "u-2", false},
		{"terminal", "done", "u-3", false},
		{"absent", "ghost", "u-4", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := x.Fetch(context.Background(), "ns", tt.pod, tt.uid)
			if ok != tt.want || (ok && (p.UID != tt.uid || p.ServiceAccount != "sa")) {
				t.Fatalf("Fetch = %+v, %v; want found=%v", p, ok, tt.want)
			}
		})
	}
}

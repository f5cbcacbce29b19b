// Package podindex keeps an in-memory index of the pods scheduled to this
// node, fed by a client-go informer restricted with the field selector
// spec.nodeName=<node>, so the broker can check a caller's pod without an
// apiserver round trip and learns when a pod goes away.
//
// Objects are stripped to the few fields attestation needs before they are
// stored. Pods in a terminal phase (Succeeded, Failed) are not returned by
// ByUID: no process runs in them, so no caller can speak for them.
package podindex

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

const uidIndex = "uid"

// Pod is what the broker knows about a pod on this node.
type Pod struct {
	UID, Namespace, Name, ServiceAccount, NodeName string
	IPs                                            []netip.Addr
	HostNetwork                                    bool
}

// Index answers questions about the pods on one node.
type Index struct {
	factory  informers.SharedInformerFactory
	informer cache.SharedIndexInformer
	client   kubernetes.Interface
	nodeName string

	mu       sync.RWMutex
	onDelete []func(Pod)
}

// New builds an index of the pods whose spec.nodeName is nodeName. Register
// OnDelete handlers, then call Run.
func New(client kubernetes.Interface, nodeName string, resync time.Duration) *Index {
	selector := fields.OneTermEqualSelector("spec.nodeName", nodeName).String()
	factory := informers.NewSharedInformerFactoryWithOptions(client, resync,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = selector }),
		informers.WithTransform(strip),
	)
	x := &Index{factory: factory, informer: factory.Core().V1().Pods().Informer(), client: client, nodeName: nodeName}
	// Neither call can fail before the informer has started.
	_ = x.informer.AddIndexers(cache.Indexers{uidIndex: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok {
			return []string{string(p.UID)}, nil
		}
		return nil, nil
	}})
	_, _ = x.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: x.updated,
		DeleteFunc: x.deleted,
	})
	return x
}

// Run starts the informer and blocks until ctx is done.
func (x *Index) Run(ctx context.Context) error {
	x.factory.Start(ctx.Done())
	<-ctx.Done()
	x.factory.Shutdown()
	return nil
}

// HasSynced reports whether the initial list has been stored.
func (x *Index) HasSynced() bool { return x.informer.HasSynced() }

// WaitForSync blocks until the initial list is stored or ctx is done.
func (x *Index) WaitForSync(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), x.informer.HasSynced) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return errors.New("pod index did not sync")
	}
	return nil
}

// ByUID returns the running (not terminal) pod with that UID on this node.
func (x *Index) ByUID(uid string) (Pod, bool) {
	objs, err := x.informer.GetIndexer().ByIndex(uidIndex, uid)
	if err != nil || len(objs) != 1 {
		return Pod{}, false
	}
	p, ok := objs[0].(*corev1.Pod)
	if !ok || terminal(p) {
		return Pod{}, false
	}
	return toPod(p), true
}

// Pods returns how many pods the index holds.
func (x *Index) Pods() int { return len(x.informer.GetStore().ListKeys()) }

// OnDelete registers fn to run when a pod leaves this node's index or reaches
// a terminal phase; both may be reported for one pod, so fn must be
// idempotent. fn runs on the informer's goroutine and must not block.
func (x *Index) OnDelete(fn func(Pod)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.onDelete = append(x.onDelete, fn)
}

func (x *Index) updated(oldObj, newObj any) {
	o, ok1 := oldObj.(*corev1.Pod)
	n, ok2 := newObj.(*corev1.Pod)
	if ok1 && ok2 && !terminal(o) && terminal(n) {
		x.notify(n)
	}
}

func (x *Index) deleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if p, ok := obj.(*corev1.Pod); ok {
		x.notify(p)
	}
}

func (x *Index) notify(p *corev1.Pod) {
	pod := toPod(p)
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, fn := range x.onDelete {
		fn(pod)
	}
}

// Fetch asks the apiserver for one pod directly, for the window in which
// the watch has not caught up (after an apiserver outage client-go backs
// off for up to 30 s before it lists again). The pod counts only if it has
// that UID, runs on this node and is not terminal; any error is a miss.
func (x *Index) Fetch(ctx context.Context, namespace, name, uid string) (Pod, bool) {
	p, err := x.client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil || string(p.UID) != uid || p.Spec.NodeName != x.nodeName || terminal(p) {
		return Pod{}, false
	}
	return toPod(p), true
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func toPod(p *corev1.Pod) Pod {
	out := Pod{
		UID:            string(p.UID),
		Namespace:      p.Namespace,
		Name:           p.Name,
		ServiceAccount: p.Spec.ServiceAccountName,
		NodeName:       p.Spec.NodeName,
		HostNetwork:    p.Spec.HostNetwork,
	}
	ips := p.Status.PodIPs
	if len(ips) == 0 && p.Status.PodIP != "" {
		ips = []corev1.PodIP{{IP: p.Status.PodIP}}
	}
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			out.IPs = append(out.IPs, a.Unmap())
		}
	}
	return out
}

// strip keeps only what toPod and terminal read, to keep the cache small on
// nodes with many pods. It must be idempotent.
func strip(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil // e.g. a DeletedFinalStateUnknown tombstone
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:              p.Name,
			Namespace:         p.Namespace,
			UID:               p.UID,
			ResourceVersion:   p.ResourceVersion,
			DeletionTimestamp: p.DeletionTimestamp,
		},
		Spec: corev1.PodSpec{
			NodeName:           p.Spec.NodeName,
			ServiceAccountName: p.Spec.ServiceAccountName,
			HostNetwork:        p.Spec.HostNetwork,
		},
		Status: corev1.PodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP, PodIPs: p.Status.PodIPs},
	}, nil
}

package agent

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/secrets-broker/secrets-broker/agent/logfield"
	"github.com/secrets-broker/secrets-broker/node/attest"
	"github.com/secrets-broker/secrets-broker/node/podindex"
)

func (a *Agent) buildKube() error {
	if a.kube != nil {
		return nil
	}
	var rc *rest.Config
	var err error
	if a.cfg.Kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", a.cfg.Kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return fmt.Errorf("kube config: %w", err)
	}
	// TokenReviews come in bursts when many pods start; the cache keeps
	// the steady state low, so allow a generous burst.
	rc.QPS, rc.Burst = 100, 200
	rc.UserAgent = "secrets-broker"
	k, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kube client: %w", err)
	}
	a.kube = k
	return nil
}

// buildNode wires node attestation: the pod index of this node, and the
// pod-deletion hook that forgets reviews and evicts (revokes) sessions.
func (a *Agent) buildNode() error {
	if a.cfg.AttestationMode != attest.Off {
		a.pods = podindex.New(a.kube, a.cfg.NodeName, 0)
		a.pods.OnDelete(func(p podindex.Pod) {
			a.authn.ForgetPod(p.UID)
			n := a.sessions.EvictPod(context.Background(), p.UID, a.cfg.RevokeOnPodDelete)
			a.log.Info().Str(logfield.Namespace, p.Namespace).Str(logfield.Pod, p.Name).
				Str(logfield.PodUID, p.UID).Int("sessions", n).Msg("pod gone: sessions evicted")
		})
	} else {
		a.log.Warn().Msg("attestation is OFF: any process holding a pod's token can act as that pod; development only")
	}
	at, err := attest.New(attest.Config{
		Mode: a.cfg.AttestationMode, NodeName: a.cfg.NodeName, Pods: podLookup(a.pods),
		Proc: os.DirFS(a.cfg.HostProc), Logger: a.component("attest"),
	})
	if err != nil {
		return fmt.Errorf("attestation: %w", err)
	}
	a.attestor = at
	return nil
}

// podLookup avoids handing a typed nil *Index to the attestor.
func podLookup(x *podindex.Index) attest.PodLookup {
	if x == nil {
		return nil
	}
	return syncedPods{x: x, misses: expirable.NewLRU[string, struct{}](4096, nil, fetchMissTTL)}
}

// fetchMissTTL: a pod the apiserver did not confirm is not asked about
// again for this long, so a deleted pod's still-cached token cannot turn
// each of its requests into a pod GET.
const fetchMissTTL = 5 * time.Second

// syncWait bounds how long a request waits for the pod index's first list.
const syncWait = 10 * time.Second

// syncedPods makes a lookup wait for the index's initial sync. The socket is
// bound at start (so a new broker can take it over during a rollout), and a
// request arriving before the first list would otherwise be refused as
// pod_not_on_node by a broker that simply has not looked yet.
type syncedPods struct {
	x      *podindex.Index
	misses *expirable.LRU[string, struct{}]
}

func (s syncedPods) ByUID(uid string) (podindex.Pod, bool) {
	if !s.x.HasSynced() {
		ctx, cancel := context.WithTimeout(context.Background(), syncWait)
		_ = s.x.WaitForSync(ctx) // not synced after syncWait: the lookup below refuses
		cancel()
	}
	return s.x.ByUID(uid)
}

// FetchPod is the attestor's fallback when the index has no such pod.
func (s syncedPods) FetchPod(ctx context.Context, namespace, name, uid string) (podindex.Pod, bool) {
	if _, missed := s.misses.Get(uid); missed {
		return podindex.Pod{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	p, ok := s.x.Fetch(ctx, namespace, name, uid)
	if !ok {
		s.misses.Add(uid, struct{}{})
	}
	return p, ok
}

var _ attest.PodFetcher = syncedPods{}

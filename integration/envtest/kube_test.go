package envtest

import (
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/secrets-broker/secrets-broker/integration/env"
)

// TestBrokerKubeconfigIsLeastPrivilege: the broker's identity can review
// tokens (seeing the pod a token is bound to) and read pods, and nothing
// more; its reviews are counted under its own user.
func TestBrokerKubeconfigIsLeastPrivilege(t *testing.T) {
	ctx := t.Context()
	path, err := testEnv.BrokerKubeconfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	broker, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := count(t, func() (int, error) { return testEnv.CountTokenReviews(env.BrokerUser) })

	pod, jwt := podToken(t, env.DataPlaneNamespace, env.DataPlaneSA, env.Audience)
	tr, err := broker.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: jwt, Audiences: []string{env.Audience}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("broker TokenReview: %v", err)
	}
	if !tr.Status.Authenticated || tr.Status.User.Username != "system:serviceaccount:tokenizer-dp:tokenizer-dp-sa" {
		t.Fatalf("review = %+v", tr.Status)
	}
	if got := tr.Status.User.Extra["authentication.kubernetes.io/pod-uid"]; len(got) != 1 || got[0] != string(pod.UID) {
		t.Errorf("review pod-uid extra = %v, want [%s]", got, pod.UID)
	}
	if n := count(t, func() (int, error) { return testEnv.CountTokenReviews(env.BrokerUser) }); n != before+1 {
		t.Errorf("TokenReviews by broker: %d -> %d, want +1", before, n)
	}
	if _, err := broker.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=node-a"}); err != nil {
		t.Errorf("broker list pods: %v", err)
	}
	_, err = broker.CoreV1().Secrets(env.DataPlaneNamespace).List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("broker list secrets: err %v, want Forbidden", err)
	}
	_, err = broker.CoreV1().ServiceAccounts(env.DataPlaneNamespace).CreateToken(ctx, env.DataPlaneSA,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("broker mint token: err %v, want Forbidden", err)
	}
}

// TestCreatePodWithIP: the status a kubelet would write is there for TCP
// attestation, and the pod stays bound to its node.
func TestCreatePodWithIP(t *testing.T) {
	pod, err := testEnv.CreatePodWithIP(t.Context(), env.DataPlaneNamespace, uniq("ip"), env.DataPlaneSA, "node-b", "127.0.0.7")
	if err != nil {
		t.Fatal(err)
	}
	got, err := testEnv.AdminClient().CoreV1().Pods(pod.Namespace).Get(t.Context(), pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.PodIP != "127.0.0.7" || got.Status.Phase != corev1.PodRunning || got.Spec.NodeName != "node-b" {
		t.Errorf("pod ip %q phase %q node %q", got.Status.PodIP, got.Status.Phase, got.Spec.NodeName)
	}
}

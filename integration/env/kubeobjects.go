package env

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Vault's token reviewer: a ServiceAccount allowed to create TokenReviews.
const (
	VaultReviewerNamespace = "vault"
	VaultReviewerSA        = "vault-auth"
	// VaultReviewerUser is the username Vault's TokenReviews appear under in
	// the apiserver audit log.
	VaultReviewerUser = "system:serviceaccount:" + VaultReviewerNamespace + ":" + VaultReviewerSA
)

// setupKube creates Vault's reviewer identity and, by default, the ADR
// tenants. The reviewer JWT comes from TokenRequest: legacy token Secrets
// are never filled in without kube-controller-manager.
func (e *Env) setupKube(ctx context.Context) error {
	if err := e.CreateTenant(ctx, VaultReviewerNamespace, VaultReviewerSA); err != nil {
		return err
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-auth-delegator"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: VaultReviewerNamespace, Name: VaultReviewerSA}},
	}
	if _, err := e.admin.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); ignoreExists(err) != nil {
		return fmt.Errorf("bind vault-auth to system:auth-delegator: %w", err)
	}
	jwt, err := e.MintToken(ctx, VaultReviewerNamespace, VaultReviewerSA, nil, "", 24*time.Hour)
	if err != nil {
		return fmt.Errorf("reviewer token: %w", err)
	}
	e.reviewerJWT = jwt
	if e.opts.SkipADRTenants {
		return nil
	}
	for _, t := range [][2]string{
		{DataPlaneNamespace, DataPlaneSA},
		{CryptoGenNamespace, CryptoGenSA},
		{ControlPlaneNamespace, ControlPlaneSA},
	} {
		if err := e.CreateTenant(ctx, t[0], t[1]); err != nil {
			return err
		}
	}
	return nil
}

// CreateTenant creates namespace ns and ServiceAccount sa in it; existing
// ones are fine. Namespaces never finish deleting here (no
// kube-controller-manager), so tests pick unique names.
func (e *Env) CreateTenant(ctx context.Context, ns, sa string) error {
	_, err := e.admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if ignoreExists(err) != nil {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	_, err = e.admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
	if ignoreExists(err) != nil {
		return fmt.Errorf("create serviceaccount %s/%s: %w", ns, sa, err)
	}
	return nil
}

// CreatePod creates a pod running as sa and assigned to nodeName. With no
// kubelet it stays Pending, which is all a bound token needs.
func (e *Env) CreatePod(ctx context.Context, ns, name, sa, nodeName string) (*corev1.Pod, error) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			ServiceAccountName:           sa,
			NodeName:                     nodeName,
			AutomountServiceAccountToken: ptr.To(false),
			Containers:                   []corev1.Container{{Name: "app", Image: "registry.invalid/app:never-pulled"}},
		},
	}
	created, err := e.admin.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create pod %s/%s: %w", ns, name, err)
	}
	return created, nil
}

// CreatePodWithIP is CreatePod plus the status a kubelet would write once
// the sandbox is up: phase Running and the given pod IP, so that TCP
// attestation (remote IP == pod IP) can be exercised from loopback.
func (e *Env) CreatePodWithIP(ctx context.Context, ns, name, sa, nodeName, ip string) (*corev1.Pod, error) {
	pod, err := e.CreatePod(ctx, ns, name, sa, nodeName)
	if err != nil {
		return nil, err
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	updated, err := e.admin.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("set status of pod %s/%s: %w", ns, name, err)
	}
	return updated, nil
}

// DeletePod force-deletes a pod. A graceful delete never completes without
// a kubelet; grace 0 removes it at once, which invalidates its bound tokens
// (after the apiserver's 10 s TokenReview success cache).
func (e *Env) DeletePod(ctx context.Context, ns, name string) error {
	err := e.admin.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	if err != nil {
		return fmt.Errorf("delete pod %s/%s: %w", ns, name, err)
	}
	return nil
}

// MintToken requests a token for ns/sa through TokenRequest, as kubelet does
// for a projected volume. With pod set the token is bound to that pod (its
// name and UID appear in TokenReview extras and it dies with the pod). An
// empty audience means the apiserver's own. The apiserver refuses ttl under
// 10 minutes.
func (e *Env) MintToken(ctx context.Context, ns, sa string, pod *corev1.Pod, audience string, ttl time.Duration) (string, error) {
	tr := &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(ttl / time.Second))},
	}
	if audience != "" {
		tr.Spec.Audiences = []string{audience}
	}
	if pod != nil {
		tr.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{
			Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID,
		}
	}
	out, err := e.admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("mint token for %s/%s: %w", ns, sa, err)
	}
	return out.Status.Token, nil
}

func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

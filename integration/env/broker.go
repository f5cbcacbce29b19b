package env

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The broker's own Kubernetes identity.
const (
	BrokerNamespace = "secrets-broker"
	BrokerSA        = "secrets-broker"
	// BrokerUser is the username the broker's TokenReviews appear under in
	// the apiserver audit log.
	BrokerUser = "system:serviceaccount:" + BrokerNamespace + ":" + BrokerSA
)

// BrokerRules are all the broker may do in Kubernetes: review tokens and
// watch pods (its node's pod index). Nothing else, so a test passing with
// this kubeconfig proves the chart's RBAC is enough.
var BrokerRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
}

// BrokerKubeconfig writes (once) a kubeconfig for the secrets-broker
// ServiceAccount, bound to a ClusterRole holding exactly BrokerRules, and
// returns its path. The token is a 24 h TokenRequest token.
func (e *Env) BrokerKubeconfig(ctx context.Context) (string, error) {
	e.brokerMu.Lock()
	defer e.brokerMu.Unlock()
	if e.brokerKubeconfig != "" {
		return e.brokerKubeconfig, nil
	}
	if err := e.setupBrokerRBAC(ctx); err != nil {
		return "", err
	}
	token, err := e.MintToken(ctx, BrokerNamespace, BrokerSA, nil, "", 24*time.Hour)
	if err != nil {
		return "", fmt.Errorf("broker kubeconfig: %w", err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["env"] = &clientcmdapi.Cluster{Server: e.apiURL, CertificateAuthority: e.caFile}
	cfg.AuthInfos[BrokerSA] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["env"] = &clientcmdapi.Context{Cluster: "env", AuthInfo: BrokerSA, Namespace: BrokerNamespace}
	cfg.CurrentContext = "env"
	path := filepath.Join(e.dir, "broker.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("write broker kubeconfig: %w", err)
	}
	e.brokerKubeconfig = path
	return path, nil
}

func (e *Env) setupBrokerRBAC(ctx context.Context) error {
	if err := e.CreateTenant(ctx, BrokerNamespace, BrokerSA); err != nil {
		return fmt.Errorf("broker identity: %w", err)
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "secrets-broker"}, Rules: BrokerRules}
	if _, err := e.admin.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); ignoreExists(err) != nil {
		return fmt.Errorf("create broker clusterrole: %w", err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "secrets-broker"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: BrokerNamespace, Name: BrokerSA}},
	}
	if _, err := e.admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); ignoreExists(err) != nil {
		return fmt.Errorf("bind broker clusterrole: %w", err)
	}
	return nil
}

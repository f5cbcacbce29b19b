package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/secrets-broker/secrets-broker/agent/secret"
)

// Login is the result of a kubernetes-auth login or a renewal.
type Login struct {
	Token     secret.Token
	Accessor  string
	TTL       time.Duration
	Renewable bool
	Policies  []string
}

// Login authenticates to auth/<mount>/login with the pod's own JWT, so the
// token belongs to the pod's ServiceAccount and Vault's audit names it.
func (c *Client) Login(ctx context.Context, mount, role string, jwt secret.Token, call Call) (Login, error) {
	call.Token = "" // a login must not carry any token
	s, err := c.with(call).Logical().WriteWithContext(ctx, "auth/"+mount+"/login", map[string]any{
		"role": role,
		"jwt":  jwt.Reveal(),
	})
	if err != nil {
		return Login{}, fmt.Errorf("%w: %w", ErrLogin, classify(err))
	}
	return loginFrom(s)
}

// RenewSelf extends the session token's lease.
func (c *Client) RenewSelf(ctx context.Context, call Call) (Login, error) {
	s, err := c.with(call).Logical().WriteWithContext(ctx, "auth/token/renew-self", map[string]any{})
	if err != nil {
		return Login{}, fmt.Errorf("renew: %w", classify(err))
	}
	l, err := loginFrom(s)
	if err != nil {
		return Login{}, err
	}
	l.Token = call.Token // renew-self returns the same token
	return l, nil
}

// TokenValid asks Vault whether the token still works. It separates "your
// token is dead" from "your policy forbids this" after a 403: only the
// first justifies a new login.
func (c *Client) TokenValid(ctx context.Context, call Call) (bool, error) {
	_, err := c.with(call).Logical().ReadWithContext(ctx, "auth/token/lookup-self")
	if err == nil {
		return true, nil
	}
	err = classify(err)
	if errors.Is(err, ErrDenied) {
		return false, nil
	}
	return false, fmt.Errorf("lookup-self: %w", err)
}

// RevokeSelf revokes the session token (pod deleted, broker evicting).
func (c *Client) RevokeSelf(ctx context.Context, call Call) error {
	_, err := c.with(call).Logical().WriteWithContext(ctx, "auth/token/revoke-self", map[string]any{})
	if err != nil {
		return fmt.Errorf("revoke: %w", classify(err))
	}
	return nil
}

func loginFrom(s *vaultapi.Secret) (Login, error) {
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return Login{}, &Error{Kind: ErrUpstream, Reason: "vault returned no auth block"}
	}
	return Login{
		Token:     secret.Token(s.Auth.ClientToken),
		Accessor:  s.Auth.Accessor,
		TTL:       time.Duration(s.Auth.LeaseDuration) * time.Second,
		Renewable: s.Auth.Renewable,
		Policies:  s.Auth.Policies,
	}, nil
}

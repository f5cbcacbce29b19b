package vault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
		kind string
	}{
		{"403", &vaultapi.ResponseError{StatusCode: 403, Errors: []string{"permission denied"}}, ErrDenied, "denied"},
		{"404", &vaultapi.ResponseError{StatusCode: 404}, ErrNotFound, "not_found"},
		{"cas mismatch", &vaultapi.ResponseError{StatusCode: 400, Errors: []string{"check-and-set parameter did not match the current version"}}, ErrConflict, "conflict"},
		{"cas required is a bad request", &vaultapi.ResponseError{StatusCode: 400, Errors: []string{"check-and-set parameter required for this call"}}, ErrBadRequest, "bad_request"},
		{"sealed", &vaultapi.ResponseError{StatusCode: 503, Errors: []string{"Vault is sealed"}}, ErrUnavailable, "unavailable"},
		{"rate limited", &vaultapi.ResponseError{StatusCode: 429}, ErrUnavailable, "unavailable"},
		{"500", &vaultapi.ResponseError{StatusCode: 500, Errors: []string{"internal error"}}, ErrUpstream, "other"},
		{"deadline", fmt.Errorf("do: %w", context.DeadlineExceeded), ErrTimeout, "timeout"},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, ErrUnavailable, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.err)
			if !errors.Is(got, tt.want) || Kind(got) != tt.kind {
				t.Fatalf("classify(%v) = %v (kind %s), want %v (%s)", tt.err, got, Kind(got), tt.want, tt.kind)
			}
		})
	}
}

func TestLoginErrorIsMarked(t *testing.T) {
	err := fmt.Errorf("%w: %w", ErrLogin, classify(&vaultapi.ResponseError{StatusCode: 403}))
	if !errors.Is(err, ErrLogin) || !errors.Is(err, ErrDenied) {
		t.Fatalf("login denial lost its marks: %v", err)
	}
}

func TestVersionOf(t *testing.T) {
	for _, tt := range []struct {
		in   map[string]any
		want int
	}{
		{map[string]any{"version": 3.0}, 3},
		{map[string]any{"current_version": 7.0}, 7},
		{map[string]any{}, 0},
	} {
		if got := versionOf(tt.in); got != tt.want {
			t.Errorf("versionOf(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

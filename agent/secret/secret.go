// Package secret holds the types that carry credentials and secret values
// through the broker. Each type redacts itself in every formatting path
// (String, GoString, Format, MarshalText, MarshalJSON), so a token or a
// secret value cannot reach a log line, an error message or a metric label
// by accident; code must call Reveal at the vault/api or client-go boundary.
package secret

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

const redacted = "[REDACTED]"

// Token is a bearer credential: a ServiceAccount JWT or a Vault token.
type Token string

// Reveal returns the raw credential. Call it only where the value leaves
// the process towards the party that issued or verifies it.
func (t Token) Reveal() string { return string(t) }

// Empty reports whether no credential was given.
func (t Token) Empty() bool { return t == "" }

// Hash is the hex SHA-256 of the token: a cache key that never holds the
// token itself and cannot be turned back into it.
func (t Token) Hash() string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

func (t Token) String() string               { return redacted }
func (t Token) GoString() string             { return redacted }
func (t Token) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte(redacted)) }
func (t Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (t Token) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Data is a secret's key/value payload as read from or written to Vault.
// It redacts when formatted; handlers encode it explicitly with Reveal.
type Data map[string]any

// Reveal returns the underlying map for encoding to the caller or Vault.
func (d Data) Reveal() map[string]any { return map[string]any(d) }

func (d Data) String() string               { return redacted }
func (d Data) GoString() string             { return redacted }
func (d Data) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte(redacted)) }
func (d Data) MarshalText() ([]byte, error) { return []byte(redacted), nil }

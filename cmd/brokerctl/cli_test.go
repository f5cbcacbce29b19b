// Unit tests: an httptest server plays the broker's /api/v1; the real
// broker is exercised in integration/clients.
package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testEnv(t *testing.T, h http.HandlerFunc) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	enc := base64.RawURLEncoding.EncodeToString
	tok := enc([]byte(`{}`)) + "." + enc(fmt.Appendf(nil, `{"exp":%d}`, time.Now().Add(time.Hour).Unix())) + ".s"
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SECRETS_BROKER_URL", srv.URL)
	t.Setenv("SECRETS_BROKER_TOKEN_PATH", p)
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"read ok", 200, `{"data":{"b":"2","a":"1"},"version":1}`, []string{"read", "kv/x"}, 0, "a=1\nb=2\n"},
		{"read field", 200, `{"data":{"a":"s3"},"version":1}`, []string{"read", "kv/x", "-field", "a"}, 0, "s3\n"},
		{"read json", 200, `{"data":{"a":"1"},"version":4}`, []string{"--json", "read", "kv/x"}, 0, `"version": 4`},
		{"write", 200, `{"status":"written","path":"kv/x","version":2}`, []string{"write", "kv/x", "a=1", "--cas", "1"}, 0, "written kv/x version 2"},
		{"list", 200, `{"keys":["a","b/"]}`, []string{"list", "kv/"}, 0, "a\nb/\n"},
		{"delete", 200, `{}`, []string{"delete", "kv/x"}, 0, "deleted kv/x"},
		{"not found", 404, `{"error":{"code":"not_found"}}`, []string{"read", "kv/x"}, exitNotFound, ""},
		{"denied", 403, `{"error":{"code":"vault_denied"}}`, []string{"write", "kv/x", "a=1"}, exitDenied, ""},
		{"conflict", 409, `{"error":{"code":"cas_conflict"}}`, []string{"write", "kv/x", "a=1", "-cas", "0"}, exitConflict, ""},
		{"unauthenticated", 401, `{"error":{"code":"unauthenticated"}}`, []string{"read", "kv/x"}, exitUnauthenticated, ""},
		{"bad request", 400, `{"error":{"code":"bad_path"}}`, []string{"read", "kv/x"}, exitBadRequest, ""},
		{"unavailable", 503, `{"error":{"code":"vault_unavailable"}}`, []string{"write", "kv/x", "a=1"}, exitUnavailable, ""},
		{"usage: no path", 200, `{}`, []string{"read"}, exitUsage, ""},
		{"usage: unknown command", 200, `{}`, []string{"frob", "kv/x"}, exitUsage, ""},
		{"usage: bad pair", 200, `{}`, []string{"write", "kv/x", "novalue"}, exitUsage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testEnv(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			var out, errOut bytes.Buffer
			if code := run(tt.args, strings.NewReader(""), &out, &errOut); code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.wantCode, errOut.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Fatalf("stdout %q, want %q", out.String(), tt.wantOut)
			}
		})
	}
}

func TestWriteDataSources(t *testing.T) {
	var got string
	testEnv(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		_, _ = io.WriteString(w, `{"status":"written","version":1}`)
	})
	file := filepath.Join(t.TempDir(), "d.json")
	if err := os.WriteFile(file, []byte(`{"k":{"nested":true}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"write", "kv/x", "a=1", "b=x=y"}, "", `{"data":{"a":"1","b":"x=y"}}`},
		{[]string{"write", "kv/x", "@" + file}, "", `{"data":{"k":{"nested":true}}}`},
		{[]string{"patch", "kv/x", "-", "-cas", "3"}, `{"s":"v"}`, `{"cas":3,"data":{"s":"v"}}`},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if code := run(tt.args, strings.NewReader(tt.stdin), &out, &errOut); code != 0 || got != tt.want {
			t.Errorf("%v: exit %d, sent %s, want %s (%s)", tt.args, code, got, tt.want, errOut.String())
		}
	}
}

package config

import (
	"flag"
	"strings"
	"testing"
)

func parse(t *testing.T, env map[string]string, args ...string) Flags {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var f Flags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f.Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestValidate(t *testing.T) {
	ok := []string{"--vault-addr=http://127.0.0.1:8200", "--node-name=n1"}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr []string // substrings; empty = valid
	}{
		{name: "defaults with vault and node", args: ok},
		{name: "env fallbacks", env: map[string]string{"VAULT_ADDR": "https://vault:8200", "NODE_NAME": "n2"}},
		{name: "off mode needs no node", args: []string{"--vault-addr=http://v:1", "--attestation-mode=off"}},
		{name: "every problem at once",
			args:    []string{"--vault-addr=vault:8200", "--attestation-mode=loose", "--socket-mode=999", "--tls-cert=c.pem", "--log-level=chatty", "--request-timeout=0s"},
			wantErr: []string{"--vault-addr", "--attestation-mode", "--socket-mode", "--tls-cert and --tls-key", "--log-level", "--request-timeout"}},
		{name: "missing node name", args: []string{"--vault-addr=http://v:1"}, wantErr: []string{"NODE_NAME"}},
		{name: "bad env value reported", env: map[string]string{"SECRETS_BROKER_RATE_LIMIT": "fast"}, args: ok, wantErr: []string{"SECRETS_BROKER_RATE_LIMIT"}},
		{name: "nothing to serve", args: append([]string{"--socket-path=", "--listen-addr="}, ok...), wantErr: []string{"nothing to serve"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("VAULT_ADDR", "")
			t.Setenv("NODE_NAME", "")
			f := parse(t, tt.env, tt.args...)
			c, err := f.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if c.SocketPerm != 0o666 {
					t.Fatalf("socket perm %o", c.SocketPerm)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

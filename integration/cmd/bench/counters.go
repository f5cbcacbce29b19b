package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
	"github.com/secrets-broker/secrets-broker/integration/env"
)

// auditMark is a position in Vault's audit log. The warm phase writes
// hundreds of thousands of lines, so counts are taken from a mark instead
// of re-reading the whole file as env.CountVaultLogins does.
type auditMark struct {
	path string
	off  int64
}

func (r *rig) markVault() auditMark {
	m := auditMark{path: r.env.VaultAuditLogPath()}
	if st, err := os.Stat(m.path); err == nil {
		m.off = st.Size()
	}
	return m
}

// vaultCounts are Vault audit entries written since a mark.
type vaultCounts struct {
	Logins   int `json:"logins"`   // successful auth/kubernetes/login for the bench role
	Requests int `json:"requests"` // every request Vault audited
}

func (m auditMark) since() (vaultCounts, error) {
	var c vaultCounts
	f, err := os.Open(m.path)
	if err != nil {
		return c, err
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(m.off, io.SeekStart); err != nil {
		return c, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil { // EOF, or a line still being written
			return c, nil
		}
		var a env.VaultAuditEntry
		if json.Unmarshal(line, &a) != nil {
			continue
		}
		if a.Type == "request" {
			c.Requests++
		}
		if la := a.LoginAuth(); la != nil && a.Request.Path == "auth/kubernetes/login" && la.Metadata["role"] == env.CryptoGenRole {
			c.Logins++
		}
	}
}

// kubeCounts are apiserver audit counts (the audit policy records
// TokenReviews and pod reads only).
type kubeCounts struct {
	BrokerTokenReviews int `json:"broker_tokenreviews"`
	VaultTokenReviews  int `json:"vault_tokenreviews"`
}

func (r *rig) kubeCounts() (kubeCounts, error) {
	var k kubeCounts
	var err error
	if k.BrokerTokenReviews, err = r.env.CountTokenReviews(env.BrokerUser); err != nil {
		return k, err
	}
	k.VaultTokenReviews, err = r.env.CountTokenReviews(env.VaultReviewerUser)
	return k, err
}

func (k kubeCounts) minus(o kubeCounts) kubeCounts {
	return kubeCounts{k.BrokerTokenReviews - o.BrokerTokenReviews, k.VaultTokenReviews - o.VaultTokenReviews}
}

// Memory is one reading of a broker process.
type Memory struct {
	RSSMiB       float64 `json:"rss_mib"`        // VmRSS from /proc/<pid>/status
	HeapInuseMiB float64 `json:"heap_inuse_mib"` // go_memstats_heap_inuse_bytes
	Sessions     float64 `json:"sessions"`       // secrets_broker_vault_sessions
	Goroutines   float64 `json:"goroutines"`
}

func memoryOf(b *brokerproc.Broker) (Memory, error) {
	var m Memory
	pid, err := brokerPID(b)
	if err != nil {
		return m, err
	}
	if m.RSSMiB, err = vmRSS(pid); err != nil {
		return m, err
	}
	text, err := b.Metrics()
	if err != nil {
		return m, err
	}
	m.HeapInuseMiB = metric(text, "go_memstats_heap_inuse_bytes") / (1 << 20)
	m.Sessions = metric(text, "secrets_broker_vault_sessions")
	m.Goroutines = metric(text, "go_goroutines")
	return m, nil
}

// brokerPID finds the broker by its unique socket path on the command
// line (brokerproc does not expose the pid).
func brokerPID(b *brokerproc.Broker) (int, error) {
	want := []byte("--socket-path=" + b.SocketPath + "\x00")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmd, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err == nil && bytes.Contains(cmd, want) {
			return strconv.Atoi(filepath.Base(d))
		}
	}
	return 0, fmt.Errorf("no process with socket %s", b.SocketPath)
}

func vmRSS(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// metric sums the samples of name (any labels) in Prometheus text format.
func metric(text, name string) float64 {
	var sum float64
	for _, l := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(l, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// readOp reads the bench secret through a broker socket with pod p's token.
func readOp(c *http.Client, p pod) opFunc {
	return getOp(c, "http://broker/api/v1/read/kv/"+secretPath, "Authorization", "Bearer "+p.JWT)
}

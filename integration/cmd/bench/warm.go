package main

import (
	"context"
	"fmt"
	"time"
)

// contender is one way of reading the bench secret.
type contender struct {
	Name  string
	Label string // a, b, c, d of the issue
	op    opFunc
}

// Contender names; ratios refer to them.
const (
	cDirect    = "vault direct (HTTP, Vault token)"
	cUnixAPI   = "broker unix /api/v1/read"
	cUnixVault = "broker unix /v1/ (Vault-compatible)"
	cTCP       = "broker tcp HTTP /api/v1/read"
	cTLS       = "broker tcp HTTPS /api/v1/read"
	cStrict    = "broker unix /api/v1/read, strict attestation"
	cProxy     = "vault proxy (unix, auto-auth)"
)

func (r *rig) contenders(strict bool) []contender {
	n := 0
	for _, c := range r.cfg.Conc {
		n = max(n, c)
	}
	kv := "/kv/data/" + secretPath
	api := "/api/v1/read/kv/" + secretPath
	bearer := "Bearer " + r.brokerPod.JWT
	cs := []contender{
		{cDirect, "a", getOp(tcpClient(n, nil), r.env.VaultAddr()+"/v1"+kv, "X-Vault-Token", r.vaultToken)},
		{cUnixAPI, "b", getOp(unixClient(r.plain.SocketPath, n), "http://broker"+api, "Authorization", bearer)},
		{cUnixVault, "b", getOp(unixClient(r.plain.SocketPath, n), "http://broker/v1"+kv, "X-Vault-Token", r.brokerPod.JWT)},
		{cTCP, "c", getOp(tcpClient(n, nil), "http://"+r.plain.TCPAddr+api, "Authorization", bearer)},
		{cTLS, "c", getOp(tcpClient(n, r.tlsCA.clientConfig()), "https://"+r.tls.TCPAddr+api, "Authorization", bearer)},
		{cProxy, "d", getOp(unixClient(r.proxy.socket, n), "http://proxy/v1"+kv, "", "")},
	}
	if strict {
		cs = append(cs, contender{cStrict, "b", getOp(unixClient(r.strict.SocketPath, n), "http://broker"+api, "Authorization", bearer)})
	}
	return cs
}

// WarmRow is one contender at one concurrency level.
type WarmRow struct {
	Contender   string `json:"contender"`
	Label       string `json:"label"`
	Concurrency int    `json:"concurrency"`
	Stats
}

// Ratio compares two contenders at one concurrency level (latency ratios:
// lower is better for the numerator; rps ratio: higher is better).
type Ratio struct {
	Name        string  `json:"name"`
	Concurrency int     `json:"concurrency"`
	P50         float64 `json:"p50_ratio"`
	P99         float64 `json:"p99_ratio"`
	RPS         float64 `json:"rps_ratio"`
}

// Added is the latency the broker adds over direct Vault (b − a).
type Added struct {
	Contender   string  `json:"contender"`
	Concurrency int     `json:"concurrency"`
	P50         float64 `json:"p50_added_us"`
	P99         float64 `json:"p99_added_us"`
}

// warmReads warms every contender (sessions, review cache, connections),
// then, per concurrency level, runs rounds in which every contender gets
// one slice, the order rotated each round, so load drift on the shared
// machine hits all of them alike.
func (r *rig) warmReads(ctx context.Context, res *Results) error {
	leave, strict := r.enterPod()
	defer leave()
	cs := r.contenders(strict)
	for _, c := range cs {
		if s := runCount(ctx, 8, 200, c.op); s.errs > 0 {
			return fmt.Errorf("warm-up %s: %d errors, first: %s", c.Name, s.errs, s.firstErr)
		}
	}
	for _, conc := range r.cfg.Conc {
		agg := make([]sample, len(cs))
		for round := range r.cfg.Rounds {
			for i := range cs {
				k := (i + round) % len(cs)
				agg[k].merge(runFor(ctx, conc, r.cfg.Slice, cs[k].op))
			}
		}
		byName := map[string]Stats{}
		for k, c := range cs {
			st := agg[k].stats()
			byName[c.Name] = st
			res.Warm = append(res.Warm, WarmRow{Contender: c.Name, Label: c.Label, Concurrency: conc, Stats: st})
			logf("warm c=%-3d %-38s p50 %8.0fµs p99 %8.0fµs %7.0f req/s errors %d", conc, c.Name, st.P50, st.P99, st.RPS, st.Errors)
		}
		res.Ratios = append(res.Ratios, ratios(conc, byName)...)
		for _, b := range []string{cUnixAPI, cUnixVault, cStrict, cTCP, cTLS} {
			if _, ok := byName[b]; !ok {
				continue
			}
			res.Added = append(res.Added, Added{Contender: b, Concurrency: conc,
				P50: byName[b].P50 - byName[cDirect].P50, P99: byName[b].P99 - byName[cDirect].P99})
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func ratios(conc int, s map[string]Stats) []Ratio {
	pairs := []struct{ name, num, den string }{
		{"b/a unix api ÷ direct", cUnixAPI, cDirect},
		{"b/a unix /v1/ ÷ direct", cUnixVault, cDirect},
		{"b/a unix strict ÷ direct", cStrict, cDirect},
		{"c/a tcp http ÷ direct", cTCP, cDirect},
		{"c/a tcp https ÷ direct", cTLS, cDirect},
		{"b/d unix api ÷ proxy", cUnixAPI, cProxy},
		{"b/d unix /v1/ ÷ proxy", cUnixVault, cProxy},
		{"b/d unix strict ÷ proxy", cStrict, cProxy},
		{"d/a proxy ÷ direct", cProxy, cDirect},
	}
	var out []Ratio
	for _, p := range pairs {
		n, ok1 := s[p.num]
		d, ok2 := s[p.den]
		if !ok1 || !ok2 {
			continue
		}
		out = append(out, Ratio{Name: p.name, Concurrency: conc,
			P50: div(n.P50, d.P50), P99: div(n.P99, d.P99), RPS: div(n.RPS, d.RPS)})
	}
	return out
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// settle gives background work (audit writes, GC) a moment between phases.
func settle() { time.Sleep(1500 * time.Millisecond) }

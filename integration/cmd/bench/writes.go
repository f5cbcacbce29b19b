package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
)

// writeTarget is one way of writing; version extracts the stored version
// from a 2xx answer (CAS needs it for the next write).
type writeTarget struct {
	name    string
	useCAS  bool
	client  *http.Client
	url     string // key prefix; the worker's suffix is appended
	header  string
	value   string
	body    func(data map[string]any, cas int, useCAS bool) any
	version func(body []byte) (int, error)
}

func (r *rig) writeTargets(conns int) []writeTarget {
	direct := writeTarget{client: tcpClient(conns, nil), url: r.env.VaultAddr() + "/v1/kv/data/",
		header: "X-Vault-Token", value: r.vaultToken,
		body: func(d map[string]any, cas int, useCAS bool) any {
			if useCAS {
				return map[string]any{"data": d, "options": map[string]any{"cas": cas}}
			}
			return map[string]any{"data": d}
		},
		version: func(b []byte) (int, error) {
			var v struct{ Data struct{ Version int } }
			err := json.Unmarshal(b, &v)
			return v.Data.Version, err
		}}
	broker := writeTarget{client: unixClient(r.plain.SocketPath, conns), url: "http://broker/api/v1/write/kv/",
		header: "Authorization", value: "Bearer " + r.brokerPod.JWT,
		body: func(d map[string]any, cas int, useCAS bool) any {
			if useCAS {
				return map[string]any{"data": d, "cas": cas}
			}
			return map[string]any{"data": d}
		},
		version: func(b []byte) (int, error) {
			var v struct{ Version int }
			err := json.Unmarshal(b, &v)
			return v.Version, err
		}}
	direct.name, broker.name = "vault direct write", "broker unix write"
	dCAS, bCAS := direct, broker
	dCAS.name, bCAS.name = "vault direct write CAS", "broker unix write CAS"
	dCAS.useCAS, bCAS.useCAS = true, true
	return []writeTarget{direct, dCAS, broker, bCAS}
}

// op writes key-w<worker>; with CAS each worker passes the version it
// stored last (0 first: the key is new), so every write must succeed.
func (t writeTarget) op(key string, conc int) opFunc {
	vers := make([]int, conc)
	var n atomic.Int64
	return func(ctx context.Context, w int) error {
		data := map[string]any{"v": strconv.FormatInt(n.Add(1), 10), "note": "bench write"}
		b, err := json.Marshal(t.body(data, vers[w], t.useCAS))
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url+key+"-w"+strconv.Itoa(w), bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set(t.header, t.value)
		req.Header.Set("Content-Type", "application/json")
		out, err := send(t.client, req)
		if err != nil {
			return err
		}
		v, err := t.version(out)
		if err != nil || v <= vers[w] {
			return fmt.Errorf("write answered version %d after %d: %v", v, vers[w], err)
		}
		vers[w] = v
		return nil
	}
}

// writes compares KV v2 writes through the broker's socket with direct
// writes to Vault, without and with CAS, interleaved like the reads.
func (r *rig) writes(ctx context.Context, res *Results) error {
	maxConc := 0
	for _, c := range r.cfg.WriteConc {
		maxConc = max(maxConc, c)
	}
	ts := r.writeTargets(maxConc)
	for _, conc := range r.cfg.WriteConc {
		ops := make([]opFunc, len(ts))
		for i, t := range ts {
			key := fmt.Sprintf("tokenizer/crypto-gen/bench-w-%s/%d-%d", r.runID, i, conc)
			ops[i] = t.op(key, conc)
		}
		agg := make([]sample, len(ts))
		for round := range r.cfg.Rounds {
			for i := range ts {
				k := (i + round) % len(ts)
				agg[k].merge(runFor(ctx, conc, r.cfg.WriteSlice, ops[k]))
			}
		}
		st := map[string]Stats{}
		for i, t := range ts {
			st[t.name] = agg[i].stats()
			res.Writes = append(res.Writes, WarmRow{Contender: t.name, Concurrency: conc, Stats: st[t.name]})
			logf("write c=%-3d %-24s p50 %8.0fµs p99 %8.0fµs %7.0f req/s errors %d", conc, t.name, st[t.name].P50, st[t.name].P99, st[t.name].RPS, st[t.name].Errors)
			if agg[i].errs > 0 {
				return fmt.Errorf("%s: %d errors, first: %s", t.name, agg[i].errs, agg[i].firstErr)
			}
		}
		for _, p := range [][3]string{
			{"broker ÷ direct", "broker unix write", "vault direct write"},
			{"broker CAS ÷ direct CAS", "broker unix write CAS", "vault direct write CAS"},
		} {
			n, d := st[p[1]], st[p[2]]
			res.WriteRatios = append(res.WriteRatios, Ratio{Name: p[0], Concurrency: conc,
				P50: div(n.P50, d.P50), P99: div(n.P99, d.P99), RPS: div(n.RPS, d.RPS)})
		}
	}
	return nil
}

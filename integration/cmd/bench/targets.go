package main

import "fmt"

// Target is one of the targets and where this run stands.
type Target struct {
	Name     string `json:"name"`
	Measured string `json:"measured"`
	Status   string `json:"status"` // met, MISSED, or not measured
}

func status(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// targets checks the targets against what was measured; nothing
// measured means "not measured", never "met".
func targets(res *Results) []Target {
	var out []Target
	add := func(name, measured string, ok bool) { out = append(out, Target{name, measured, status(ok)}) }
	for _, r := range res.Ratios {
		switch r.Name {
		case "b/a unix api ÷ direct", "b/a unix /v1/ ÷ direct", "b/a unix strict ÷ direct":
			add(fmt.Sprintf("warm socket read ≤ 1.10× direct Vault p50 and p99 (%s, c=%d)", r.Name, r.Concurrency),
				fmt.Sprintf("p50 %.2f×, p99 %.2f×", r.P50, r.P99), r.P50 <= 1.10 && r.P99 <= 1.10)
		case "b/d unix api ÷ proxy", "b/d unix /v1/ ÷ proxy", "b/d unix strict ÷ proxy":
			add(fmt.Sprintf("warm socket read ≤ 1.0× Vault Proxy (%s, c=%d)", r.Name, r.Concurrency),
				fmt.Sprintf("p50 %.2f×, p99 %.2f×", r.P50, r.P99), r.P50 <= 1.0 && r.P99 <= 1.0)
		}
	}
	for _, a := range res.Added {
		if a.Contender == cUnixAPI || a.Contender == cUnixVault || a.Contender == cStrict {
			add(fmt.Sprintf("broker-added p50 ≤ 50 µs (%s, c=%d)", a.Contender, a.Concurrency),
				fmt.Sprintf("%.0f µs", a.P50), a.P50 <= 50)
		}
	}
	if a := res.Amortization; a != nil {
		add("logins = pods (amortization)", fmt.Sprintf("%d logins for %d pods", a.Vault.Logins, a.Pods), a.Vault.Logins == a.Pods)
		add("TokenReviews ≤ tokens (amortization)", fmt.Sprintf("%d for %d tokens", a.Kube.BrokerTokenReviews, a.Pods), a.Kube.BrokerTokenReviews <= a.Pods)
	} else {
		out = append(out, Target{"logins = pods, TokenReviews ≤ tokens", "-", "not measured"})
	}
	if s := res.BootStorm; s != nil {
		add("logins = pods (boot storm)", fmt.Sprintf("%d logins for %d pods", s.Vault.Logins, s.Pods), s.Vault.Logins == s.Pods)
		add("TokenReviews ≤ tokens (boot storm)", fmt.Sprintf("%d for %d tokens", s.Kube.BrokerTokenReviews, s.Pods), s.Kube.BrokerTokenReviews <= s.Pods)
		add("boot storm 0 errors", fmt.Sprintf("%d errors of %d pods", s.Errors, s.Pods), s.Errors == 0)
	} else {
		out = append(out, Target{"boot storm 0 errors", "-", "not measured"})
	}
	out = append(out, rssTargets(res)...)
	return out
}

// rssTargets report every 250-session reading: the boot-storm broker right
// after 250 simultaneous first requests (its Vault connection pool and heap
// still grown from the spike) and the growth broker primed 16 pods at a time.
func rssTargets(res *Results) []Target {
	const name = "RSS ≤ 40 MiB at 250 sessions"
	var out []Target
	if s := res.BootStorm; s != nil && s.Pods == 250 {
		out = append(out, Target{name + " (right after the boot storm)",
			fmt.Sprintf("%.1f MiB, %.0f sessions", s.MemLoaded.RSSMiB, s.MemLoaded.Sessions), status(s.MemLoaded.RSSMiB <= 40)})
	}
	for _, g := range res.Growth {
		if g.Sessions == 250 {
			out = append(out, Target{name + " (steady, primed 16 at a time)",
				fmt.Sprintf("%.1f MiB, %.0f sessions", g.Memory.RSSMiB, g.Memory.Sessions), status(g.Memory.RSSMiB <= 40)})
		}
	}
	if len(out) == 0 {
		out = append(out, Target{name, "no 250-session reading in this run", "not measured"})
	}
	return out
}

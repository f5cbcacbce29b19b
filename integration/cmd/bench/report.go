package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Results is everything one run measured; results.json is this struct.
type Results struct {
	Machine      Machine       `json:"machine"`
	Config       config        `json:"config"`
	Settings     []string      `json:"settings"`
	Elapsed      string        `json:"elapsed"`
	Warm         []WarmRow     `json:"warm_reads"`
	Ratios       []Ratio       `json:"warm_read_ratios"`
	Added        []Added       `json:"broker_added_latency"`
	Amortization *Amortization `json:"amortization,omitempty"`
	BootStorm    *BootStorm    `json:"boot_storm,omitempty"`
	Writes       []WarmRow     `json:"writes"`
	WriteRatios  []Ratio       `json:"write_ratios"`
	Growth       []GrowthRow   `json:"growth"`
	Targets      []Target      `json:"targets"`
	Failures     []string      `json:"failures,omitempty"`
}

// Machine is where the run happened.
type Machine struct {
	CPUs         int    `json:"cpus"`
	CPUModel     string `json:"cpu_model"`
	OS           string `json:"os"`
	GoVersion    string `json:"go_version"`
	Date         string `json:"date"`
	LoadAvgStart string `json:"loadavg_start"`
	LoadAvgEnd   string `json:"loadavg_end"`
}

// writeReport prints the markdown and writes results.md and results.json.
func writeReport(dir string, res *Results) error {
	res.Targets = targets(res)
	md := markdown(res)
	fmt.Print(md)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	logf("wrote %s/results.md and results.json", dir)
	return nil
}

func markdown(res *Results) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := res.Machine
	mode := "full"
	if res.Config.Quick {
		mode = "quick (smoke run: short slices, fewer pods — not for quoting)"
	}
	w("### Run: %s, %s mode, %s elapsed\n\n", m.Date, mode, res.Elapsed)
	w("**Machine:** %d CPUs (%s), %s, %s. Load average at start %s, at end %s.\n", m.CPUs, m.CPUModel, m.OS, m.GoVersion, m.LoadAvgStart, m.LoadAvgEnd)
	w("**Everything on one box:** the bench client, etcd, kube-apiserver, Vault, Vault Proxy and the brokers share these cores " +
		"(and other work on the machine), so absolute latencies are pessimistic and throughput is bounded by the client itself; " +
		"the ratios between contenders measured in the same interleaved run are the point.\n\n")
	w("Settings:\n\n")
	for _, s := range res.Settings {
		w("- %s\n", s)
	}
	w("\n#### 1. Warm reads (same secret; latency in µs)\n\n")
	statsTable(&b, res.Warm, true)
	w("\nRatios (latency: contender ÷ reference, lower is better; req/s: higher is better):\n\n")
	ratioTable(&b, res.Ratios)
	w("\n#### 2. Broker-added latency (b − a, µs)\n\n| contender | conc | p50 added | p99 added |\n|---|--:|--:|--:|\n")
	for _, a := range res.Added {
		w("| %s | %d | %.0f | %.0f |\n", a.Contender, a.Concurrency, a.P50, a.P99)
	}
	amortSection(&b, res.Amortization)
	stormSection(&b, res.BootStorm)
	w("\n#### 5. Writes (KV v2, latency in µs)\n\n")
	statsTable(&b, res.Writes, false)
	w("\n")
	ratioTable(&b, res.WriteRatios)
	growthSection(&b, res.Growth)
	w("\n#### Targets (issue 7)\n\n| target | measured | status |\n|---|---|---|\n")
	for _, t := range res.Targets {
		w("| %s | %s | %s |\n", t.Name, t.Measured, t.Status)
	}
	if len(res.Failures) > 0 {
		w("\n**Failed phases:**\n\n")
		for _, f := range res.Failures {
			w("- %s\n", f)
		}
	}
	return b.String()
}

func statsTable(b *strings.Builder, rows []WarmRow, label bool) {
	fmt.Fprintf(b, "| contender | conc | p50 | p90 | p99 | max | req/s | n | errors |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rows {
		name := r.Contender
		if label && r.Label != "" {
			name = "(" + r.Label + ") " + name
		}
		fmt.Fprintf(b, "| %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %d | %d |\n",
			name, r.Concurrency, r.P50, r.P90, r.P99, r.Max, r.RPS, r.N, r.Errors)
	}
}

func ratioTable(b *strings.Builder, rows []Ratio) {
	fmt.Fprintf(b, "| ratio | conc | p50 | p99 | req/s |\n|---|--:|--:|--:|--:|\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %d | %.2f× | %.2f× | %.2f× |\n", r.Name, r.Concurrency, r.P50, r.P99, r.RPS)
	}
}

func amortSection(b *strings.Builder, a *Amortization) {
	if a == nil {
		return
	}
	fmt.Fprintf(b, "\n#### 3. Login and TokenReview amortization (fresh broker)\n\n"+
		"%d pods × %d requests, %d concurrent callers per pod on first contact, %d pods at a time; %d requests in %s, %d errors; "+
		"latency p50 %.0f µs, p99 %.0f µs.\n\n"+
		"| counted at the real servers | count | pods (N) |\n|---|--:|--:|\n"+
		"| Vault logins (Vault audit log) | %d | %d |\n| broker TokenReviews (apiserver audit log) | %d | %d |\n"+
		"| Vault's own TokenReviews during its logins | %d | %d |\n",
		a.Pods, a.ReqsPerPod, a.CallersPerPod, a.PodsAtOnce, a.Requests, a.Duration, a.Stats.Errors, a.Stats.P50, a.Stats.P99,
		a.Vault.Logins, a.Pods, a.Kube.BrokerTokenReviews, a.Pods, a.Kube.VaultTokenReviews, a.Pods)
}

func stormSection(b *strings.Builder, s *BootStorm) {
	if s == nil {
		return
	}
	fmt.Fprintf(b, "\n#### 4. Boot storm (fresh broker)\n\n"+
		"%d pods' first requests released at the same instant, each on its own new socket connection.\n\n"+
		"| all served in | errors | p50 | p99 | max | Vault logins | Vault requests | broker TokenReviews | Vault TokenReviews |\n"+
		"|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n| %s | %d | %.0f ms | %.0f ms | %.0f ms | %d | %d | %d | %d |\n",
		s.Pods, s.AllServedIn, s.Errors, s.Stats.P50/1000, s.Stats.P99/1000, s.Stats.Max/1000,
		s.Vault.Logins, s.Vault.Requests, s.Kube.BrokerTokenReviews, s.Kube.VaultTokenReviews)
	if s.FirstErr != "" {
		fmt.Fprintf(b, "\nFirst error: `%s`\n", s.FirstErr)
	}
	fmt.Fprintf(b, "\n#### 6. Memory (same broker)\n\n| state | VmRSS MiB | heap in use MiB | sessions | goroutines |\n|---|--:|--:|--:|--:|\n"+
		"| idle (after start) | %.1f | %.1f | %.0f | %.0f |\n| after the storm | %.1f | %.1f | %.0f | %.0f |\n\n"+
		"Per session (with its review cache entry): heap %.1f KiB, RSS %.1f KiB.\n",
		s.MemIdle.RSSMiB, s.MemIdle.HeapInuseMiB, s.MemIdle.Sessions, s.MemIdle.Goroutines,
		s.MemLoaded.RSSMiB, s.MemLoaded.HeapInuseMiB, s.MemLoaded.Sessions, s.MemLoaded.Goroutines, s.HeapPerSess, s.RSSPerSess)
}

func growthSection(b *strings.Builder, rows []GrowthRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "\n#### 7. Cost growth with cached sessions (fresh broker, reads at concurrency %d cycling over every cached pod)\n\n"+
		"| sessions | p50 µs | p99 µs | req/s | VmRSS MiB | heap in use MiB | sessions gauge | TokenReviews during |\n|--:|--:|--:|--:|--:|--:|--:|--:|\n", growthConc)
	for _, r := range rows {
		fmt.Fprintf(b, "| %d | %.0f | %.0f | %.0f | %.1f | %.1f | %.0f | %d |\n",
			r.Sessions, r.Stats.P50, r.Stats.P99, r.Stats.RPS, r.Memory.RSSMiB, r.Memory.HeapInuseMiB, r.Memory.Sessions, r.ReReviews)
	}
	if len(rows) > 1 {
		f, l := rows[0], rows[len(rows)-1]
		fmt.Fprintf(b, "\nHeap slope %d → %d sessions: %.1f KiB per session.\n", f.Sessions, l.Sessions,
			(l.Memory.HeapInuseMiB-f.Memory.HeapInuseMiB)*1024/float64(l.Sessions-f.Sessions))
	}
}

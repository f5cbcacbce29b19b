// Command bench measures the secrets-broker side by side with direct Vault
// and Vault Proxy on the real servers of integration/env (etcd,
// kube-apiserver, Vault, all on loopback): warm read latency and throughput,
// broker-added latency, login and TokenReview amortization, a boot storm,
// the write path, memory, and cost growth with the number of cached
// sessions. It prints a table and writes results.md and results.json to
// -out. Everything runs on one machine, so absolute numbers are
// pessimistic; the ratios between contenders measured in the same run are
// the point.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is what the flags select; quick() shrinks it to a smoke run.
type config struct {
	Out         string        `json:"-"`
	Quick       bool          `json:"quick"`
	Conc        []int         `json:"concurrency"`
	Slice       time.Duration `json:"slice"`  // one contender's turn in one round
	Rounds      int           `json:"rounds"` // interleaved rounds per concurrency
	AmortPods   int           `json:"amort_pods"`
	AmortReqs   int           `json:"amort_requests_per_pod"`
	AmortCalls  int           `json:"amort_callers_per_pod"`
	StormPods   int           `json:"storm_pods"`
	Growth      []int         `json:"growth_sessions"`
	GrowthSlice time.Duration `json:"growth_slice"`
	WriteSlice  time.Duration `json:"write_slice"`
	WriteConc   []int         `json:"write_concurrency"`
	Profile     string        `json:"-"` // CPU profile of an in-process broker instead of the phases
	ProfileTime time.Duration `json:"-"`
}

// profileHook is set by profile.go, built only with -tags benchprofile:
// it imports the agent package, whose dependencies the integration module
// does not require otherwise (see BENCHMARKS.md, "Profiling").
var profileHook func(r *rig, ctx context.Context, path string, d time.Duration) error

func main() { os.Exit(run()) }

func run() int {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	if err := bench(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var c config
	var conc, growth, wconc string
	fs.StringVar(&c.Out, "out", "bench-results", "directory for results.md and results.json")
	fs.BoolVar(&c.Quick, "quick", false, "smoke run (about 2 minutes): shorter slices, fewer pods")
	fs.StringVar(&conc, "conc", "1,8,64", "concurrency levels of the warm read comparison")
	fs.DurationVar(&c.Slice, "slice", 1500*time.Millisecond, "one contender's turn per round")
	fs.IntVar(&c.Rounds, "rounds", 4, "interleaved rounds per concurrency level")
	fs.IntVar(&c.AmortPods, "amort-pods", 50, "pods in the amortization phase")
	fs.IntVar(&c.AmortReqs, "amort-reqs", 200, "requests per pod in the amortization phase")
	fs.IntVar(&c.AmortCalls, "amort-callers", 32, "concurrent callers per pod on first contact")
	fs.IntVar(&c.StormPods, "storm-pods", 250, "pods in the boot storm (and the memory figure)")
	fs.StringVar(&growth, "growth", "10,100,250,1000", "cached-session counts of the cost-growth phase")
	fs.DurationVar(&c.GrowthSlice, "growth-slice", 3*time.Second, "read measurement per growth step")
	fs.DurationVar(&c.WriteSlice, "write-slice", 1500*time.Millisecond, "one write contender's turn per round")
	fs.StringVar(&c.Profile, "profile", "", "write a CPU profile of an in-process broker under warm socket reads to this file, skip the phases (needs -tags benchprofile)")
	fs.DurationVar(&c.ProfileTime, "profile-time", 20*time.Second, "how long -profile drives reads")
	fs.StringVar(&wconc, "write-conc", "1,8", "concurrency levels of the write comparison")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.Quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		c.quick(set)
	}
	var err error
	if c.Conc, err = ints(conc); err != nil {
		return c, fmt.Errorf("-conc: %w", err)
	}
	if c.WriteConc, err = ints(wconc); err != nil {
		return c, fmt.Errorf("-write-conc: %w", err)
	}
	if c.Growth == nil { // quick() may have chosen already
		if c.Growth, err = ints(growth); err != nil {
			return c, fmt.Errorf("-growth: %w", err)
		}
	}
	return c, nil
}

// quick shrinks every phase that was not set explicitly.
func (c *config) quick(set map[string]bool) {
	shrink := func(name string, apply func()) {
		if !set[name] {
			apply()
		}
	}
	shrink("slice", func() { c.Slice = 400 * time.Millisecond })
	shrink("rounds", func() { c.Rounds = 2 })
	shrink("amort-pods", func() { c.AmortPods = 10 })
	shrink("amort-reqs", func() { c.AmortReqs = 64 })
	shrink("storm-pods", func() { c.StormPods = 50 })
	shrink("growth", func() { c.Growth = []int{10, 50, 100} })
	shrink("growth-slice", func() { c.GrowthSlice = time.Second })
	shrink("write-slice", func() { c.WriteSlice = 400 * time.Millisecond })
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// bench runs every phase in order and writes the report, also when a later
// phase fails (what was measured is kept, the failure is recorded).
func bench(ctx context.Context, cfg config) error {
	start := time.Now()
	res := &Results{Config: cfg, Machine: machine()}
	s, err := setup(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.close()
	if cfg.Profile != "" {
		if profileHook == nil {
			return fmt.Errorf("-profile needs a build with -tags benchprofile")
		}
		return profileHook(s, ctx, cfg.Profile, cfg.ProfileTime)
	}
	res.Settings = s.settings()
	phases := []struct {
		name string
		run  func(context.Context, *Results) error
	}{
		{"warm reads", s.warmReads},
		{"amortization", s.amortization},
		{"boot storm and memory", s.bootStorm},
		{"writes", s.writes},
		{"cost growth", s.growth},
	}
	var failed []string
	for _, p := range phases {
		t := time.Now()
		logf("phase %s: starting", p.name)
		if err := p.run(ctx, res); err != nil {
			logf("phase %s: FAILED: %v", p.name, err)
			failed = append(failed, fmt.Sprintf("%s: %v", p.name, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		logf("phase %s: done in %s", p.name, time.Since(t).Round(time.Millisecond))
	}
	res.Failures = failed
	res.Machine.LoadAvgEnd = loadAvg()
	res.Elapsed = time.Since(start).Round(time.Second).String()
	if err := writeReport(cfg.Out, res); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d phase(s) failed: %s", len(failed), strings.Join(failed, "; "))
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// machine records what the numbers were measured on.
func machine() Machine {
	return Machine{
		CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		CPUModel: cpuModel(), LoadAvgStart: loadAvg(), Date: time.Now().UTC().Format(time.RFC3339),
	}
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

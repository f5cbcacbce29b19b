package reliability

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/secrets-broker/secrets-broker/integration/brokerproc"
)

// load is a bounded background load: workers goroutines, each alternating
// a write of a fresh path under writePrefix (when set) and a read of
// readPath, until dur passes or ctx ends. It never runs longer than dur.
type load struct {
	workers     int
	dur         time.Duration
	client      func() *http.Client // one per worker
	token       string
	readPath    string // mount/path, e.g. kv/tokenizer/crypto-gen/x
	writePrefix string // mount/path prefix; "" = reads only
	// retryRefused retries a request once when the connect was refused or
	// the socket path was momentarily missing (a client's ordinary retry).
	retryRefused bool
	pause        time.Duration // between requests of one worker
}

// result is one request's outcome, in time order per worker.
type result struct {
	at      time.Time
	end     time.Time
	write   string // path written ("" for reads)
	value   string
	status  int // 0 = transport error
	code    string
	retry   string // Retry-After header
	err     error
	retried bool
}

type loadResult struct {
	mu   sync.Mutex
	all  []result
	dur  time.Duration
	reqs int
}

func (l load) run(ctx context.Context) *loadResult {
	ctx, cancel := context.WithTimeout(ctx, l.dur)
	defer cancel()
	out := &loadResult{}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range l.workers {
		c := l.client()
		wg.Go(func() { l.worker(ctx, c, w, out) })
	}
	wg.Wait()
	out.dur = time.Since(start)
	return out
}

func (l load) worker(ctx context.Context, c *http.Client, w int, out *loadResult) {
	for n := 0; ctx.Err() == nil; n++ {
		var r result
		if l.writePrefix != "" && n%2 == 0 {
			r.write = fmt.Sprintf("%s/w%d-%d", l.writePrefix, w, n)
			r.value = canaryValue(fmt.Sprintf("w%d-%d", w, n))
			r = l.send(c, http.MethodPost, api+"/write/"+r.write, `{"data":{"v":"`+r.value+`"}}`, r)
		} else {
			r = l.send(c, http.MethodGet, api+"/read/"+l.readPath, "", r)
		}
		out.mu.Lock()
		out.all = append(out.all, r)
		out.reqs++
		out.mu.Unlock()
		if l.pause > 0 {
			time.Sleep(l.pause)
		}
	}
}

func (l load) send(c *http.Client, method, url, body string, r result) result {
	r.at = time.Now()
	resp, err := do(c, method, url, l.token, body)
	if err != nil && l.retryRefused && refusedConnect(err) {
		r.retried = true
		time.Sleep(20 * time.Millisecond)
		resp, err = do(c, method, url, l.token, body)
	}
	r.end = time.Now()
	r.err = err
	if err == nil {
		r.status, r.code, r.retry = resp.Status, resp.Code(), resp.Header.Get("Retry-After")
	}
	return r
}

// refusedConnect: the connect itself failed (nothing listening, or the
// socket path briefly absent), so the request was never sent.
func refusedConnect(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" &&
		(errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT))
}

// summary counts outcomes: "200", "503 vault_unavailable", "transport: ...".
func (lr *loadResult) summary() map[string]int {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	m := map[string]int{}
	for _, r := range lr.all {
		m[r.key()]++
	}
	return m
}

func (r result) key() string {
	if r.err != nil {
		return "transport: " + errClass(r.err)
	}
	if r.code != "" {
		return fmt.Sprintf("%d %s", r.status, r.code)
	}
	return fmt.Sprint(r.status)
}

func errClass(err error) string {
	switch {
	case refusedConnect(err):
		return "connect refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case strings.Contains(err.Error(), "EOF"):
		return "EOF"
	}
	return err.Error()
}

func fmtSummary(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "[%s]=%d ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}

// acked returns every write that got a 2xx: path -> value.
func (lr *loadResult) acked() map[string]string {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	m := map[string]string{}
	for _, r := range lr.all {
		if r.write != "" && r.err == nil && r.status/100 == 2 {
			m[r.write] = r.value
		}
	}
	return m
}

// keepAlive and fresh are per-worker clients on the broker socket.
func keepAlive(b *brokerproc.Broker) func() *http.Client {
	return func() *http.Client { return brokerproc.UnixClient(b.SocketPath) }
}

func freshConns(socket string) func() *http.Client {
	return func() *http.Client {
		c := brokerproc.UnixClient(socket)
		c.Transport.(*http.Transport).DisableKeepAlives = true
		return c
	}
}

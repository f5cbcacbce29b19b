package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/secrets-broker/secrets-broker/agent/client"
)

// Exit codes, one per error class, so scripts can branch without parsing.
const (
	exitOK              = 0
	exitError           = 1 // anything not classified below
	exitUsage           = 2
	exitNotFound        = 3
	exitDenied          = 4
	exitConflict        = 5
	exitUnauthenticated = 6
	exitBadRequest      = 7
	exitUnavailable     = 8
)

const usage = `usage: brokerctl [flags] COMMAND PATH [key=value... | @file.json | -]

Talks to the node's secrets-broker at $SECRETS_BROKER_URL (unix:///… or
http(s)://…) with the projected token in $SECRETS_BROKER_TOKEN_PATH.
PATH is mount/path, e.g. kv/tokenizer/crypto-gen/new.

commands:
  read PATH [-version N] [-field KEY]   print key=value lines (or one raw value)
  write PATH DATA [-cas N]              store DATA (replaces the secret)
  patch PATH DATA [-cas N]              merge DATA into the latest version
  list PATH                             print keys, one per line
  delete PATH                           delete the latest version
  versions PATH                         print the KV v2 metadata (JSON)

DATA is key=value pairs (values are strings), @file.json (a JSON object)
or - (a JSON object on stdin). Flags may come before or after PATH.

exit codes:
  0 ok            3 not found      4 denied (attestation, policy or Vault)
  5 CAS conflict  6 unauthenticated (bad, expired or missing token)
  7 bad request   8 unavailable (broker or Vault down, rate limited; after retries)
  1 other error   2 usage

flags:
`

type options struct {
	json      bool
	url       string
	tokenPath string
	timeout   time.Duration
	version   int
	cas       int
	field     string
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("brokerctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.json, "json", false, "print JSON")
	fs.StringVar(&o.url, "url", os.Getenv(client.EnvURL), "broker URL (env "+client.EnvURL+")")
	fs.StringVar(&o.tokenPath, "token-path", os.Getenv(client.EnvTokenPath), "projected token file (env "+client.EnvTokenPath+"; default "+client.DefaultTokenPath+")")
	fs.DurationVar(&o.timeout, "timeout", time.Minute, "overall deadline, retries included")
	fs.IntVar(&o.version, "version", 0, "read: version to read (0 = latest)")
	fs.IntVar(&o.cas, "cas", -1, "write/patch: check-and-set version (0 = only if absent; -1 = none)")
	fs.StringVar(&o.field, "field", "", "read: print only this key's value")
	fs.Usage = func() { _, _ = fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if len(pos) < 2 {
		fs.Usage()
		return exitUsage
	}
	c, err := client.New(client.Config{URL: o.url, TokenPath: o.tokenPath})
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "brokerctl:", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	err = dispatch(ctx, c, o, pos, stdin, stdout)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "brokerctl:", err)
	}
	return exitCode(err)
}

// parseInterspersed lets flags follow positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, client.ErrNotFound):
		return exitNotFound
	case errors.Is(err, client.ErrDenied):
		return exitDenied
	case errors.Is(err, client.ErrConflict):
		return exitConflict
	case errors.Is(err, client.ErrUnauthenticated):
		return exitUnauthenticated
	case errors.Is(err, client.ErrBadRequest):
		return exitBadRequest
	case errors.Is(err, client.ErrUnavailable):
		return exitUnavailable
	}
	return exitError
}

type usageError string

func (u usageError) Error() string { return string(u) }

func dispatch(ctx context.Context, c *client.Client, o options, pos []string, stdin io.Reader, out io.Writer) error {
	cmd, path, rest := pos[0], pos[1], pos[2:]
	if cmd != "write" && cmd != "patch" && len(rest) > 0 {
		return usageError(cmd + " takes only PATH")
	}
	switch cmd {
	case "read":
		s, err := c.Read(ctx, path, o.version)
		if err != nil {
			return err
		}
		return printSecret(out, s, o)
	case "write", "patch":
		return write(ctx, c, cmd, path, rest, stdin, out, o)
	case "list":
		keys, err := c.List(ctx, path)
		if err != nil {
			return err
		}
		if o.json {
			return printJSON(out, keys)
		}
		_, err = fmt.Fprint(out, lines(keys))
		return err
	case "delete":
		if err := c.Delete(ctx, path); err != nil {
			return err
		}
		return printResult(out, o, map[string]any{"status": "deleted", "path": path}, "deleted "+path)
	case "versions":
		m, err := c.Versions(ctx, path)
		if err != nil {
			return err
		}
		return printJSON(out, m)
	}
	return usageError("unknown command " + cmd)
}

func write(ctx context.Context, c *client.Client, cmd, path string, args []string, stdin io.Reader, out io.Writer, o options) error {
	data, err := parseData(args, stdin)
	if err != nil {
		return err
	}
	var opts client.WriteOptions
	if o.cas >= 0 {
		opts.CAS = client.CAS(o.cas)
	}
	f := c.Write
	if cmd == "patch" {
		f = c.Patch
	}
	res, err := f(ctx, path, data, opts)
	if err != nil {
		return err
	}
	return printResult(out, o, res, fmt.Sprintf("written %s version %d", path, res.Version))
}

// parseData reads key=value pairs, @file.json or - (stdin JSON).
func parseData(args []string, stdin io.Reader) (map[string]any, error) {
	if len(args) == 0 {
		return nil, usageError("write needs DATA: key=value..., @file.json or -")
	}
	if len(args) == 1 && (args[0] == "-" || strings.HasPrefix(args[0], "@")) {
		r := stdin
		if args[0] != "-" {
			f, err := os.Open(args[0][1:])
			if err != nil {
				return nil, usageError(fmt.Sprintf("open data file: %v", err))
			}
			defer func() { _ = f.Close() }()
			r = f
		}
		var m map[string]any
		if err := json.NewDecoder(r).Decode(&m); err != nil || m == nil {
			return nil, usageError("data must be a JSON object")
		}
		return m, nil
	}
	m := map[string]any{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, usageError("want key=value, got an argument without '=' (values are never echoed)")
		}
		m[k] = v
	}
	return m, nil
}

func printSecret(out io.Writer, s *client.Secret, o options) error {
	if o.field != "" {
		v, ok := s.Data[o.field]
		if !ok {
			return &client.Error{Kind: client.ErrNotFound, Code: "no_such_field", Message: "the secret has no key " + o.field}
		}
		if str, isStr := v.(string); isStr && !o.json {
			_, err := fmt.Fprintln(out, str)
			return err
		}
		return printJSON(out, v)
	}
	if o.json {
		return printJSON(out, s)
	}
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, ok := s.Data[k].(string)
		if !ok {
			b, _ := json.Marshal(s.Data[k])
			v = string(b)
		}
		if _, err := fmt.Fprintf(out, "%s=%s\n", k, v); err != nil {
			return err
		}
	}
	return nil
}

func printResult(out io.Writer, o options, v any, text string) error {
	if o.json {
		return printJSON(out, v)
	}
	_, err := fmt.Fprintln(out, text)
	return err
}

func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func lines(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return strings.Join(ss, "\n") + "\n"
}

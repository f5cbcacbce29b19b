package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Secret is a read secret. Data holds secret values: do not log it.
type Secret struct {
	Data     map[string]any `json:"data"`
	Version  int            `json:"version"`
	Metadata map[string]any `json:"metadata"`
}

// WriteOptions tune a write or patch.
type WriteOptions struct {
	// CAS is the check-and-set version (KV v2): 0 = only if absent, N = only
	// if the current version is N. With CAS set the call is retried on
	// transient failures; a retry after a lost answer may then report
	// ErrConflict for a write that was in fact stored: read to find out.
	CAS *int
}

// WriteResult is the broker's answer to a write or patch.
type WriteResult struct {
	Status  string `json:"status"`
	Path    string `json:"path"`
	Version int    `json:"version"`
}

// CAS returns a pointer for WriteOptions.CAS.
func CAS(version int) *int { return &version }

// Read returns the secret at path ("mount/path…"); version 0 = latest.
func (c *Client) Read(ctx context.Context, path string, version int) (*Secret, error) {
	r := request{method: http.MethodGet, route: "read", path: path, idempotent: true}
	if version > 0 {
		r.query = url.Values{"version": {strconv.Itoa(version)}}
	}
	var s Secret
	if err := c.do(ctx, r, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Write stores data at path. Without CAS it is sent once on any failure
// after the request left (a retry could store it twice).
func (c *Client) Write(ctx context.Context, path string, data map[string]any, opts WriteOptions) (WriteResult, error) {
	return c.write(ctx, http.MethodPost, path, data, opts)
}

// Patch merges data into the latest version (KV v2 JSON merge patch).
func (c *Client) Patch(ctx context.Context, path string, data map[string]any, opts WriteOptions) (WriteResult, error) {
	return c.write(ctx, http.MethodPatch, path, data, opts)
}

func (c *Client) write(ctx context.Context, method, path string, data map[string]any, opts WriteOptions) (WriteResult, error) {
	if data == nil {
		data = map[string]any{}
	}
	body := map[string]any{"data": data}
	if opts.CAS != nil {
		body["cas"] = *opts.CAS
	}
	var res WriteResult
	err := c.do(ctx, request{method: method, route: "write", path: path, body: body, idempotent: opts.CAS != nil}, &res)
	return res, err
}

// List returns the keys below path (folders end in "/").
func (c *Client) List(ctx context.Context, path string) ([]string, error) {
	var res struct {
		Keys []string `json:"keys"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, route: "list", path: strings.TrimSuffix(path, "/") + "/", idempotent: true}, &res); err != nil {
		return nil, err
	}
	return res.Keys, nil
}

// Delete deletes the latest version of the secret at path. Repeating it
// deletes the same version again, so it is retried like a read.
func (c *Client) Delete(ctx context.Context, path string) error {
	return c.do(ctx, request{method: http.MethodDelete, route: "delete", path: path, idempotent: true}, nil)
}

// Versions returns the KV v2 metadata of path (versions, current_version…).
func (c *Client) Versions(ctx context.Context, path string) (map[string]any, error) {
	var m map[string]any
	if err := c.do(ctx, request{method: http.MethodGet, route: "versions", path: path, idempotent: true}, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// urlFor escapes every segment, so a name cannot add path segments or a
// query; dot and empty segments are refused here as the broker would.
func (c *Client) urlFor(r request) (string, error) {
	p := strings.TrimPrefix(r.path, "/")
	trailing := strings.HasSuffix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return "", &Error{Kind: ErrBadRequest, Code: "bad_path", Message: "empty path: want mount/path"}
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if s == "" || s == "." || s == ".." {
			return "", &Error{Kind: ErrBadRequest, Code: "bad_path", Message: "empty or dot segment in path"}
		}
		segs[i] = url.PathEscape(s)
	}
	u := c.base + "/api/v1/" + r.route + "/" + strings.Join(segs, "/")
	if trailing {
		u += "/"
	}
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	return u, nil
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/secrets-broker/secrets-broker/agent/secret"
	"github.com/secrets-broker/secrets-broker/agent/vault"
)

// writeBody is the JSON a caller sends to /api/v1/write.
type writeBody struct {
	Data *map[string]any `json:"data"`
	CAS  *int            `json:"cas,omitempty"`
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	x := s.begin(r, "api")
	t, aerr := parseTarget(r)
	if aerr != nil {
		if aerr.Status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", aerr.Message[len("allowed: "):])
		}
		s.fail(w, x, aerr)
		return
	}
	x.rec.Op, x.rec.Mount, x.rec.Path = t.Op, t.Mount, t.Path
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	err := s.authorize(ctx, r, x)
	if err == nil {
		err = allow(x, t.Op, t.Full())
	}
	if err != nil {
		s.fail(w, x, err)
		return
	}
	var payload writeBody
	if t.Op == OpWrite || t.Op == OpPatch {
		if err := decodeBody(w, r, s.cfg.MaxBodyBytes, &payload); err != nil {
			s.fail(w, x, err)
			return
		}
	}
	var res vault.Result
	err = s.withSession(ctx, x, func(call vault.Call) error {
		kind, _, err := s.cfg.KV.MountKind(ctx, t.Mount, call)
		if err != nil {
			return err
		}
		op := vault.Op{Mount: t.Mount, Path: t.Path, Kind: kind, Version: t.Version, CAS: payload.CAS}
		if payload.Data != nil {
			op.Data = secret.Data(*payload.Data)
		}
		res, err = s.run(ctx, call, t.Op, op)
		return err
	})
	if err != nil {
		s.fail(w, x, err)
		return
	}
	x.rec.VaultRequestID = res.RequestID
	writeJSON(w, http.StatusOK, responseFor(t, res))
	s.finish(x, http.StatusOK, "ok")
}

func (s *Server) run(ctx context.Context, call vault.Call, op string, o vault.Op) (vault.Result, error) {
	switch op {
	case OpRead:
		return s.cfg.KV.Read(ctx, call, o)
	case OpWrite:
		return s.cfg.KV.Write(ctx, call, o)
	case OpPatch:
		return s.cfg.KV.Patch(ctx, call, o)
	case OpList:
		return s.cfg.KV.List(ctx, call, o)
	case OpDelete:
		return s.cfg.KV.Delete(ctx, call, o)
	default:
		return s.cfg.KV.Versions(ctx, call, o)
	}
}

// responseFor shapes the caller's JSON. Secret data is revealed here, into
// the response body only.
func responseFor(t target, res vault.Result) any {
	switch t.Op {
	case OpRead:
		return map[string]any{"data": res.Data.Reveal(), "version": res.Version, "metadata": res.Metadata}
	case OpWrite, OpPatch:
		out := map[string]any{"status": "written", "path": t.Full()}
		if res.Version > 0 {
			out["version"] = res.Version
		}
		return out
	case OpList:
		return map[string]any{"keys": res.Keys}
	case OpDelete:
		return map[string]any{"status": "deleted", "path": t.Full()}
	default:
		return res.Metadata
	}
}

// decodeBody reads at most limit bytes of strict JSON: unknown fields, a
// missing or non-object "data", trailing garbage and a negative cas are
// refused so a typo cannot write a half-meant secret.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, into *writeBody) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "request body exceeds the limit"}
		}
		return errBadRequest("bad_body", "cannot read request body")
	}
	return parseWriteBody(body, into)
}

func parseWriteBody(body []byte, into *writeBody) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		return errBadRequest("bad_json", "body must be a JSON object {\"data\":{...},\"cas\":N}")
	}
	if dec.More() {
		return errBadRequest("bad_json", "trailing data after the JSON object")
	}
	if into.Data == nil || *into.Data == nil {
		return errBadRequest("bad_data", "\"data\" must be a JSON object")
	}
	if into.CAS != nil && *into.CAS < 0 {
		return errBadRequest("bad_cas", "\"cas\" must be a non-negative integer")
	}
	return nil
}

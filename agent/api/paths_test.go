package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		method, url string
		wantOp      string
		wantFull    string
		wantVersion int
		wantStatus  int
		wantCode    string
	}{
		{method: "GET", url: "/api/v1/read/kv/tokenizer/data-plane/db", wantOp: OpRead, wantFull: "kv/tokenizer/data-plane/db"},
		{method: "GET", url: "/api/v1/read/kv/a?version=3", wantOp: OpRead, wantFull: "kv/a", wantVersion: 3},
		{method: "POST", url: "/api/v1/write/kv/a/b", wantOp: OpWrite, wantFull: "kv/a/b"},
		{method: "PUT", url: "/api/v1/write/kv/a/b", wantOp: OpWrite, wantFull: "kv/a/b"},
		{method: "PATCH", url: "/api/v1/write/kv/a/b", wantOp: OpPatch, wantFull: "kv/a/b"},
		{method: "GET", url: "/api/v1/list/kv/a/", wantOp: OpList, wantFull: "kv/a"},
		{method: "GET", url: "/api/v1/list/kv", wantOp: OpList, wantFull: "kv"},
		{method: "DELETE", url: "/api/v1/delete/kv/a", wantOp: OpDelete, wantFull: "kv/a"},
		{method: "GET", url: "/api/v1/versions/kv/a", wantOp: OpVersions, wantFull: "kv/a"},
		{method: "GET", url: "/api/v1/read/kv/caf%C3%A9", wantOp: OpRead, wantFull: "kv/café"},
		{method: "GET", url: "/api/v1/read/kv/a/../b", wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/kv/a/%2e%2e/b", wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/kv/a/%2E%2E", wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/kv/./a", wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/kv//a", wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/kv/a%2fb", wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/kv/a%00b", wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/kv/a%0Ab", wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/kv/a%7Fb", wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/kv/a%5Cb", wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/kv/%FF", wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/kv/a/", wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/kv", wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/", wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/kv/" + strings.Repeat("a", 1100), wantStatus: 400, wantCode: "bad_path"},
		{method: "GET", url: "/api/v1/read/kv/a?version=0", wantStatus: 400, wantCode: "bad_version"},
		{method: "GET", url: "/api/v1/read/kv/a?version=-1", wantStatus: 400, wantCode: "bad_version"},
		{method: "GET", url: "/api/v1/read/kv/a?version=99999999999999999999", wantStatus: 400, wantCode: "bad_version"},
		{method: "GET", url: "/api/v1/read/kv/a?version=x", wantStatus: 400, wantCode: "bad_version"},
		{method: "GET", url: "/api/v1/read/kv/a?list=true", wantStatus: 400, wantCode: "bad_query"},
		{method: "DELETE", url: "/api/v1/delete/kv/a?version=1", wantStatus: 400, wantCode: "bad_query"},
		{method: "GET", url: "/api/v1/destroy/kv/a", wantStatus: 404, wantCode: "unknown_route"},
		{method: "GET", url: "/api/v1/write/kv/a", wantStatus: 405, wantCode: "method_not_allowed"},
		{method: "POST", url: "/api/v1/read/kv/a", wantStatus: 405, wantCode: "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+trunc(tt.url, 60), func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://broker"+tt.url, nil)
			got, err := parseTarget(r)
			if tt.wantStatus != 0 {
				if err == nil || err.Status != tt.wantStatus || err.Code != tt.wantCode {
					t.Fatalf("got %+v, %v; want %d %s", got, err, tt.wantStatus, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if got.Op != tt.wantOp || got.Full() != tt.wantFull || got.Version != tt.wantVersion {
				t.Fatalf("got %+v (full %q), want op %s full %s version %d", got, got.Full(), tt.wantOp, tt.wantFull, tt.wantVersion)
			}
		})
	}
}

func TestParseWriteBody(t *testing.T) {
	tests := []struct {
		name, body string
		wantCode   string
	}{
		{name: "data only", body: `{"data":{"k":"v"}}`},
		{name: "data and cas", body: `{"data":{"k":1},"cas":0}`},
		{name: "empty data object", body: `{"data":{}}`},
		{name: "not json", body: `data=1`, wantCode: "bad_json"},
		{name: "unknown field", body: `{"data":{},"extra":1}`, wantCode: "bad_json"},
		{name: "missing data", body: `{"cas":1}`, wantCode: "bad_data"},
		{name: "null data", body: `{"data":null}`, wantCode: "bad_data"},
		{name: "array data", body: `{"data":["a"]}`, wantCode: "bad_json"},
		{name: "string data", body: `{"data":"s"}`, wantCode: "bad_json"},
		{name: "cas string", body: `{"data":{},"cas":"1"}`, wantCode: "bad_json"},
		{name: "cas negative", body: `{"data":{},"cas":-1}`, wantCode: "bad_cas"},
		{name: "cas float", body: `{"data":{},"cas":1.5}`, wantCode: "bad_json"},
		{name: "trailing data", body: `{"data":{}} {"data":{}}`, wantCode: "bad_json"},
		{name: "empty body", body: ``, wantCode: "bad_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b writeBody
			err := parseWriteBody([]byte(tt.body), &b)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			ae, ok := err.(*apiError)
			if !ok || ae.Code != tt.wantCode || ae.Status != http.StatusBadRequest {
				t.Fatalf("got %v, want 400 %s", err, tt.wantCode)
			}
		})
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"/api/v1/read/kv/a", "/api/v1/list/kv/a/", "/api/v1/read/kv/a/%2e%2e/b", "/api/v1/write/kv//x"} {
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, rawURL string) {
		r, err := http.NewRequest("GET", "http://broker"+rawURL, nil)
		if err != nil || r.URL.Path == "" {
			return
		}
		r.Method = method
		got, aerr := parseTarget(r)
		if aerr != nil {
			return
		}
		full := got.Full()
		for seg := range strings.SplitSeq(full, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted bad segment in %q from %q", full, rawURL)
			}
		}
		if strings.ContainsAny(full, "\x00\n\r\\") {
			t.Fatalf("accepted control char in %q", full)
		}
	})
}

func BenchmarkParseTarget(b *testing.B) {
	r := httptest.NewRequest("GET", "http://broker/api/v1/read/kv/tokenizer/data-plane/db/primary?version=3", nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseTarget(r); err != nil {
			b.Fatal(err)
		}
	}
}

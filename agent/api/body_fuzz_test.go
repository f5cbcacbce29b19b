package api

import (
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzParseWriteBody feeds arbitrary bytes to the write-body decoder. It
// must never panic, refuse with one of its documented 400 codes, and accept
// only a single JSON object whose "data" is an object and whose "cas", if
// present, is a non-negative integer; what it accepts must survive a
// re-encode and decode unchanged in shape.
func FuzzParseWriteBody(f *testing.F) {
	for _, s := range []string{
		`{"data":{"k":"v"}}`, `{"data":{"k":"v"},"cas":0}`, `{"data":{}}`, `{"data":null}`,
		`{"data":[1]}`, `{"data":"x"}`, `{"data":{"k":1},"cas":-1}`, `{"data":{"k":1},"cas":"1"}`,
		`{"data":{"k":1}} {}`, `{"data":{"k":1},"extra":1}`, `{"cas":1}`, `[]`, `null`, ``,
		`{"data":{"a":{"b":[1,2,{"c":null}]}},"cas":99999999999999999999}`, "{\"data\":{\"\x00\":\"\xff\"}}",
	} {
		f.Add([]byte(s))
	}
	codes := map[string]bool{"bad_json": true, "bad_data": true, "bad_cas": true}
	f.Fuzz(func(t *testing.T, body []byte) {
		var wb writeBody
		err := parseWriteBody(body, &wb)
		if err != nil {
			ae, ok := err.(*apiError)
			if !ok || ae.Status != http.StatusBadRequest || !codes[ae.Code] {
				t.Fatalf("parseWriteBody(%q) = %v, want a 400 with a documented code", body, err)
			}
			return
		}
		if wb.Data == nil || *wb.Data == nil {
			t.Fatalf("accepted %q without a data object", body)
		}
		if wb.CAS != nil && *wb.CAS < 0 {
			t.Fatalf("accepted negative cas from %q", body)
		}
		again, err := json.Marshal(wb)
		if err != nil {
			t.Fatalf("re-encode accepted body %q: %v", body, err)
		}
		var wb2 writeBody
		if err := parseWriteBody(again, &wb2); err != nil {
			t.Fatalf("re-encoded body %q refused: %v", again, err)
		}
		if len(*wb2.Data) != len(*wb.Data) || (wb.CAS == nil) != (wb2.CAS == nil) {
			t.Fatalf("round trip changed %q into %q", body, again)
		}
	})
}

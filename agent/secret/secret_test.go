package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

const canary = "CANARY-7f3a"

func TestNothingFormatsTheValue(t *testing.T) {
	tok := Token(canary)
	data := Data{"k": canary}
	holder := struct {
		T Token
		D Data
	}{tok, data}
	js, _ := json.Marshal(holder)
	var zl bytes.Buffer
	logger := zerolog.New(&zl)
	logger.Info().Interface("holder", holder).Stringer("tok", tok).Msg("x")
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", tok), "%s": fmt.Sprintf("%s", tok), "%q": fmt.Sprintf("%q", tok),
		"%#v": fmt.Sprintf("%#v", tok), "%x": fmt.Sprintf("%x", tok), "%+v struct": fmt.Sprintf("%+v", holder),
		"%#v struct": fmt.Sprintf("%#v", holder), "data %v": fmt.Sprintf("%v", data), "json": string(js),
		"zerolog": zl.String(), "error wrap": fmt.Errorf("login with %v: %w", tok, fmt.Errorf("x")).Error(),
	}
	for name, out := range outputs {
		if strings.Contains(out, canary) {
			t.Errorf("%s leaks the value: %s", name, out)
		}
	}
	if tok.Reveal() != canary || data.Reveal()["k"] != canary {
		t.Fatal("Reveal must return the value")
	}
	if h := tok.Hash(); len(h) != 64 || strings.Contains(h, canary) {
		t.Fatalf("hash %q", h)
	}
}

package clients

import (
	"encoding/json"
	"fmt"
)

func sprint(v any) string {
	if v == nil {
		return ""
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b) + fmt.Sprintf(" %+v", v)
	}
	return fmt.Sprintf("%+v", v)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

package storage

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

const redacted = "[redacted]"

// redactedSecret tells whether a secret is set without showing it.
func redactedSecret(secret string) string {
	if secret == "" {
		return ""
	}
	return redacted
}

// configFields is a configuration as it may be shown: its secrets already
// redacted. The configuration types print, log and encode themselves
// through it, so that no way of showing them reaches a secret field.
type configFields []configField

type configField struct{ name, value string }

// String returns {Name:value Name:value}, as %v prints a struct.
func (fields configFields) String() string {
	var b strings.Builder
	b.WriteString("{")
	for i, f := range fields {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(f.name + ":" + f.value)
	}
	b.WriteString("}")
	return b.String()
}

// goString returns typ{Name:"value", …}, as %#v prints a struct.
func (fields configFields) goString(typ string) string {
	var b strings.Builder
	b.WriteString(typ + "{")
	for i, f := range fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.name + ":" + strconv.Quote(f.value))
	}
	b.WriteString("}")
	return b.String()
}

// format serves every fmt verb from the redacted fields.
func (fields configFields) format(f fmt.State, verb rune, typ string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, fields.goString(typ))
	case verb == 'q':
		fmt.Fprint(f, strconv.Quote(fields.String()))
	default:
		fmt.Fprint(f, fields.String())
	}
}

func (fields configFields) logValue() slog.Value {
	attrs := make([]slog.Attr, len(fields))
	for i, f := range fields {
		attrs[i] = slog.String(f.name, f.value)
	}
	return slog.GroupValue(attrs...)
}

// marshalJSON returns a JSON object of the fields, in their order.
func (fields configFields) marshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, f.name)
		b = append(b, ':')
		value, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b = append(b, value...)
	}
	return append(b, '}'), nil
}

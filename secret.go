package storage

import (
	"fmt"
	"log/slog"
	"strconv"
)

// Secret holds a credential, such as an S3 secret key or a signing key, that
// is never shown: fmt under every verb, log/slog and encoding/json or xml print
// "[redacted]", or nothing when it is unset (the zero Secret). The value sits
// behind a pointer, so that even where fmt cannot call its methods (inside an
// unexported field) it prints an address, never the value: configurations
// holding Secrets print whole. Secrets do not compare with ==; reflect.DeepEqual
// compares their values.
type Secret struct {
	_     [0]func() // not comparable: see above
	value *string
}

// NewSecret returns a Secret holding s; an empty s gives the unset Secret.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{value: &s}
}

// IsSet reports whether s holds a value.
func (s Secret) IsSet() bool { return s.value != nil && *s.value != "" }

// reveal returns the value, "" when unset.
func (s Secret) reveal() string {
	if s.value == nil {
		return ""
	}
	return *s.value
}

// redacted is what is shown in place of a secret.
const redacted = "[redacted]"

// shown is what every way of showing s prints.
func (s Secret) shown() string {
	if !s.IsSet() {
		return ""
	}
	return redacted
}

// Format implements [fmt.Formatter], quoting "[redacted]" under %q and %#v.
func (s Secret) Format(f fmt.State, verb rune) {
	text := s.shown()
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		text = strconv.Quote(text)
	}
	fmt.Fprint(f, text)
}

// LogValue implements [slog.LogValuer].
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }

// MarshalText implements [encoding.TextMarshaler].
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// description is how the backends print themselves: a struct of what may be
// shown, whose Secrets redact themselves.
func description(v any) string { return fmt.Sprintf("%+v", v) }

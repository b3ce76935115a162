package storage

import (
	"fmt"
	"log/slog"
	"strconv"
)

// Secret holds a credential, such as an S3 secret key or a signing key,
// that must never be shown. Every way of showing it prints "[redacted]"
// when it is set and nothing when it is not: fmt under every verb (%v %+v
// %#v %s %q %x %d …), log/slog with any handler, and encoding/json,
// encoding/xml and other encoders of [encoding.TextMarshaler].
//
// The value sits behind a pointer, so that fmt, which cannot call the
// methods of a Secret held in an unexported struct field, prints only an
// address there, never the value; the same holds for slog's text handler,
// which prints such structs with fmt. A configuration holding Secrets (an
// [S3Config], a [LocalOptions]) can therefore be printed, logged and
// encoded whole, also inside another struct.
//
// The zero Secret is unset. Secrets cannot be compared with ==, which would
// compare the pointers rather than the values; reflect.DeepEqual and
// testify's Equal compare the values. Only this package reads the value.
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

// Format implements [fmt.Formatter]: every verb prints "[redacted]", quoted
// under %q and %#v, or nothing for an unset Secret.
func (s Secret) Format(f fmt.State, verb rune) {
	text := s.shown()
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		text = strconv.Quote(text)
	}
	fmt.Fprint(f, text)
}

// LogValue implements [slog.LogValuer], for handlers that would otherwise
// inspect the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }

// MarshalText implements [encoding.TextMarshaler], which encoding/json,
// encoding/xml and slog's text handler use: it returns "[redacted]", or
// nothing when s is unset.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// description is how the backends print themselves: a struct of what may be
// shown, whose Secrets redact themselves.
func description(v any) string { return fmt.Sprintf("%+v", v) }

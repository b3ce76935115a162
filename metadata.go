package storage

import (
	"fmt"
	"io/fs"
	"mime"
	"strings"
	"unicode/utf8"
)

// User metadata (PutOptions.Metadata, Info.Metadata), as every backend
// keeps it and S3 sends it: RFC 2047 encoded words for values that are not
// ASCII.

// checkMetadata checks PutOptions.Metadata: names S3 keeps as given, values
// it hands back unchanged, and a size within what S3 takes.
func checkMetadata(m map[string]string) error {
	size := 0
	for k, v := range m {
		if !isToken(k) {
			return fmt.Errorf("%w: metadata name %q: only letters, digits and the characters -_. are allowed", fs.ErrInvalid, k)
		}
		if strings.ToLower(k) != k {
			// Names are stored lower-case: of two that differ only in case,
			// one value would be lost.
			for other := range m {
				if other != k && strings.EqualFold(other, k) {
					return fmt.Errorf("%w: metadata names %q and %q differ only in case", fs.ErrInvalid, min(k, other), max(k, other))
				}
			}
		}
		if problem := metadataValueProblem(v); problem != "" {
			return fmt.Errorf("%w: metadata %q: the value %s", fs.ErrInvalid, k, problem)
		}
		size += len("x-amz-meta-") + len(k) + len(metadataHeader(v))
	}
	if size > maxMetadataSize {
		return fmt.Errorf("%w: metadata is %d bytes as S3 counts it (x-amz-meta- and the name, and the value as sent, for each), more than the %d it allows", fs.ErrInvalid, size, maxMetadataSize)
	}
	return nil
}

// metadataValueProblem returns why v cannot be a metadata value, or "". Any
// text can, as long as S3 hands it back unchanged: servers trim spaces at
// the ends of a header, and AWS decodes RFC 2047 encoded words in metadata.
func metadataValueProblem(v string) string {
	if !utf8.ValidString(v) {
		return "is not valid UTF-8"
	}
	for _, r := range v {
		if r < 0x20 || 0x7f <= r && r < 0xa0 {
			return "contains a control character"
		}
	}
	if hasEndSpace(v) {
		return "starts or ends with a space, which S3 would drop"
	}
	if decoded, ok := decodeMetadata(v); !ok || decoded != v {
		return "holds an RFC 2047 encoded word (=?charset?…?=), which S3 would decode"
	}
	return ""
}

// metadataHeader returns the metadata value v as S3 takes it in a header:
// unchanged when it is ASCII, else as RFC 2047 encoded words, which AWS
// decodes and keeps as UTF-8 (MinIO keeps them as sent). metadataFromHeaders
// reverses it.
func metadataHeader(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			// Q keeps mostly-ASCII text readable, B is shorter for the rest.
			q, b := mime.QEncoding.Encode("utf-8", v), mime.BEncoding.Encode("utf-8", v)
			if len(b) < len(q) {
				return b
			}
			return q
		}
	}
	return v
}

// maxMetadataSize is S3's limit on user metadata, names and values together.
// MinIO, the stricter, counts each header's x-amz-meta- prefix too.
const maxMetadataSize = 2 << 10

// isToken reports whether s is a metadata name S3 keeps as given.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// lowerMetadata returns a copy of m with lower-case names, as S3 stores them,
// and each value passed through value; nil when m is empty.
func lowerMetadata(m map[string]string, value func(string) string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = value(v)
	}
	return out
}

// metadataFromHeaders returns the metadata S3 sent, decoded (see
// metadataHeader). A value it cannot decode is returned as sent.
func metadataFromHeaders(m map[string]string) map[string]string {
	return lowerMetadata(m, func(sent string) string {
		decoded, _ := decodeMetadata(sent)
		return decoded
	})
}

// decodeMetadata returns a metadata value as S3 sent it with its RFC 2047
// encoded words decoded, or as sent and false when it cannot decode them.
func decodeMetadata(sent string) (string, bool) {
	if !strings.Contains(sent, "=?") {
		return sent, true
	}
	decoded, err := new(mime.WordDecoder).DecodeHeader(sent)
	if err != nil {
		return sent, false
	}
	return decoded, true
}

// sameValue keeps a value as given, for lowerMetadata.
func sameValue(v string) string { return v }

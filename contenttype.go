package storage

import (
	"bytes"
	"cmp"
	"io"
	"mime"
	"net/http"
	"path"
)

// sniffLen is how many bytes http.DetectContentType looks at.
const sniffLen = 512

// commonTypes pins the types of the files orga-server stores most, so that an
// object gets the same type on every machine: mime.TypeByExtension also reads
// the host's mime.types files, which differ between systems.
var commonTypes = map[string]string{
	".avif": "image/avif",
	".css":  "text/css; charset=utf-8",
	".csv":  "text/csv; charset=utf-8",
	".gif":  "image/gif",
	".htm":  "text/html; charset=utf-8",
	".html": "text/html; charset=utf-8",
	".ics":  "text/calendar; charset=utf-8",
	".jpeg": "image/jpeg",
	".jpg":  "image/jpeg",
	".js":   "text/javascript; charset=utf-8",
	".json": "application/json",
	".key":  "application/vnd.apple.keynote",
	".md":   "text/markdown; charset=utf-8",
	".mov":  "video/quicktime",
	".mp3":  "audio/mpeg",
	".mp4":  "video/mp4",
	".odp":  "application/vnd.oasis.opendocument.presentation",
	".pdf":  "application/pdf",
	".png":  "image/png",
	".ppt":  "application/vnd.ms-powerpoint",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".svg":  "image/svg+xml",
	".txt":  "text/plain; charset=utf-8",
	".webm": "video/webm",
	".webp": "image/webp",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".xml":  "text/xml; charset=utf-8",
	".zip":  "application/zip",
}

// typeByExtension returns the content type that key's extension implies, or "".
func typeByExtension(key string) string {
	ext := path.Ext(key)
	if ext == "" {
		return ""
	}
	return cmp.Or(pinnedType(ext), mime.TypeByExtension(ext))
}

// pinnedType returns the type commonTypes gives ext, in any case, or "".
func pinnedType(ext string) string {
	if t, ok := commonTypes[ext]; ok {
		return t
	}
	// Most keys come with lower-case extensions; only the rest pay for lowering.
	if lower := asciiLower(ext); lower != ext {
		return commonTypes[lower]
	}
	return ""
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// impliedType is the content type an object stored under key has unless
// told otherwise: the pinned type of its extension, else
// application/octet-stream. Unlike typeByExtension it never depends on the
// host, so Local can leave it out of the attributes it stores.
func impliedType(key string) string {
	return cmp.Or(pinnedType(path.Ext(key)), "application/octet-stream")
}

// detectContentType resolves an object's content type: the explicit one, else
// the extension's, else sniffed from the first 512 bytes of r. It returns a
// reader that still yields all of r's bytes; only sniffing buffers anything,
// and then no more than 512 bytes.
func detectContentType(key, explicit string, r io.Reader) (string, io.Reader, error) {
	if explicit != "" {
		return explicit, r, nil
	}
	if t := typeByExtension(key); t != "" {
		return t, r, nil
	}
	head := make([]byte, sniffLen)
	n, ended, err := fill(r, head)
	if err != nil {
		return "", nil, err
	}
	if ended {
		r = eofReader{} // r is drained; reading it again may block (a pipe) or err
	}
	head = head[:n]
	if n == 0 {
		return "application/octet-stream", r, nil
	}
	return http.DetectContentType(head), io.MultiReader(bytes.NewReader(head), r), nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

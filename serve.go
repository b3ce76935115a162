package storage

import (
	"net/http"
	"net/url"
	"strings"
)

// server is implemented by a Storage whose objects the program must serve
// itself, as *Local's are.
type server interface {
	Handler() http.Handler
	BaseURL() string
}

// Handler returns what a program must serve for s's URLs to work: a handler
// and the [http.ServeMux] pattern to mount it at, or a nil handler when s's
// objects are served elsewhere, as S3's are:
//
//	if pattern, h := storage.Handler(s); h != nil {
//		mux.Handle(pattern, h)
//	}
//
// A Storage of another package is served when it has the methods Handler()
// http.Handler and BaseURL() string, as [*Local] does.
func Handler(s Storage) (pattern string, h http.Handler) {
	srv, ok := s.(server)
	if !ok {
		return "", nil
	}
	p := srv.BaseURL()
	if u, err := url.Parse(p); err == nil {
		p = u.EscapedPath()
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p, srv.Handler()
}

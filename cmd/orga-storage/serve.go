package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/orga-server/storage"
)

func runServe(ctx context.Context, a *app, args []string) error {
	flags := a.newFlags("serve", `
Serve serves the objects of the local backend over HTTP, as orga-server
does, with storage.Handler mounted at the path of the objects' URLs
(STORAGE_URL, default /static/media/): GET and HEAD of public objects, and
GET and PUT through signed URLs ("sign"). It is meant for development and
for trying signed URLs; S3 serves its objects itself. It runs until
interrupted.`)
	addr := flags.String("addr", "127.0.0.1:8080", "listen on this `address`")
	_, st, err := parseAndOpen(flags, args, 0, 0, "no arguments")
	if err != nil {
		return err
	}
	defer st.Close()
	mount, h := storage.Handler(st)
	if h == nil {
		return errors.New("serve needs the local backend; S3 serves its objects itself (unset BUCKET_NAME, AWS_KEY and AWS_SECRET)")
	}
	mux := http.NewServeMux()
	mux.Handle(mount, h)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// No ReadTimeout or WriteTimeout: they would bound a whole upload or
	// download, and cut off large files on slow links. The Handler drops an
	// upload that stalls and bounds how many run at once (LocalOptions
	// MaxUploads and UploadStallTimeout); headers must arrive promptly and
	// an idle connection is closed.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	fmt.Fprintf(a.stderr, "orga-storage serve: serving the objects at http://%s%s\n", ln.Addr(), mount)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Let requests in flight finish, but not forever.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	return nil
}

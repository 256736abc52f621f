package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func init() {
	register("serve", "firmware: serve a release repository over HTTPS (--dir --addr --cert --key)", runServe)
}

func runServe(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dir := fs.String("dir", "", "repository directory (from wardenctl release --out)")
	addr := fs.String("addr", "127.0.0.1:8443", "listen address")
	cert := fs.String("cert", "", "TLS certificate (PEM; the appliances must trust its CA)")
	key := fs.String("key", "", "TLS key (PEM)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *cert == "" || *key == "" {
		return errors.New("--dir, --cert and --key are required (appliances fetch over HTTPS only)")
	}
	if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--dir %s: not a directory", *dir)
	}
	kp, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		return fmt.Errorf("--cert/--key: %w", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "serving %s on https://%s/\n", *dir, ln.Addr())
	return serveRepo(ctx, tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS12}), *dir)
}

// serveRepo serves dir's files (with Range support, for resumed
// downloads) until ctx ends. Directory listings are not served.
func serveRepo(ctx context.Context, ln net.Listener, dir string) error {
	files := http.FileServer(http.Dir(dir))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			if strings.HasSuffix(r.URL.Path, "/") {
				http.NotFound(w, r)
				return
			}
			files.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		case <-done:
		}
	}()
	err := srv.Serve(ln)
	close(done)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

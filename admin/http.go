package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gokeeper/gokeeper/jute"
)

// HTTPServer is one of the admin's HTTP endpoints (the AdminServer or
// the Prometheus endpoint) bound to its address.
type HTTPServer struct {
	srv *http.Server
	ln  net.Listener
}

// listenHTTP binds addr and prepares h to serve on it.
func listenHTTP(addr string, h http.Handler, idle time.Duration) (*HTTPServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &HTTPServer{ln: ln, srv: &http.Server{
		Handler:           h,
		IdleTimeout:       idle,
		ReadHeaderTimeout: 10 * time.Second,
	}}, nil
}

// Addr returns the bound address.
func (s *HTTPServer) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Close; it returns nil after Close.
func (s *HTTPServer) Serve() error {
	err := s.srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the endpoint, letting requests in progress finish for up
// to five seconds.
func (s *HTTPServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// ListenAdminServer binds the AdminServer (ZooKeeper's JettyAdminServer)
// on addr, serving the commands under commandURL (admin.commandURL,
// "/commands" by default).
func (a *Admin) ListenAdminServer(addr, commandURL string, idle time.Duration) (*HTTPServer, error) {
	return listenHTTP(addr, a.AdminHandler(commandURL), idle)
}

// AdminHandler returns the AdminServer's HTTP handler: commandURL lists
// the commands as links, commandURL/<name> runs one (query parameters
// are its arguments) and answers ZooKeeper's JSON.
func (a *Admin) AdminHandler(commandURL string) http.Handler {
	prefix := "/" + strings.Trim(commandURL, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, found := strings.CutPrefix(r.URL.Path, prefix)
		if !found || (rest != "" && !strings.HasPrefix(rest, "/")) {
			http.NotFound(w, r)
			return
		}
		name := strings.Trim(rest, "/")
		if name == "" {
			w.Header().Set("Content-Type", "text/html")
			for _, n := range CommandNames() {
				fmt.Fprintf(w, "<a href=\"%s/%s\">%s</a>\n<br/>\n", prefix, n, n)
			}
			return
		}
		args := map[string]string{}
		for k, vs := range r.URL.Query() {
			if len(vs) > 0 {
				args[k] = vs[0]
			}
		}
		var auth authorizer
		if h := r.Header.Get("Authorization"); h != "" {
			auth = func(req *authRequest) (int, string) { return a.authorize(h, remoteIP(r), req) }
		}
		resp, primary := a.run(name, args, auth)
		for k, v := range resp.headers {
			w.Header().Set(k, v)
		}
		if resp.file != "" && resp.status == 200 {
			if a.streamFile(w, resp.file) {
				return
			}
			resp.status = 500
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.status)
		w.Write(marshalJackson(resp.toMap(primary)))
	})
}

// streamFile sends a snapshot file as the response body.
func (a *Admin) streamFile(w http.ResponseWriter, path string) bool {
	f, err := os.Open(path)
	if err != nil {
		a.log.Warn().Err(err).Str("file", path).Msg("snapshot command: cannot open snapshot")
		return false
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(200)
	if _, err := io.Copy(w, f); err != nil {
		a.log.Warn().Err(err).Str("file", path).Msg("snapshot command: streaming failed")
	}
	return true
}

// authorize checks an Authorization header ("<scheme> <auth>", e.g.
// "digest super:secret"; for ip, just "ip") against req, with ZooKeeper's
// statuses and messages.
func (a *Admin) authorize(header, ip string, req *authRequest) (int, string) {
	parts := strings.Split(header, " ")
	if len(parts) != 1 && len(parts) != 2 {
		a.log.Warn().Str("client", ip).Msg("admin command refused: invalid auth info")
		return 401, "Not authenticated"
	}
	var auth []byte
	if len(parts) == 2 {
		auth = []byte(parts[1])
	}
	switch a.srv.AuthorizeAdmin(parts[0], auth, ip, req.path, req.perm) {
	case jute.CodeOK:
		return 200, ""
	case jute.CodeAuthFailed:
		a.log.Warn().Str("client", ip).Str("scheme", parts[0]).Msg("admin command refused: authentication failed")
		return 401, "Not authenticated"
	case jute.CodeNoAuth:
		a.log.Warn().Str("client", ip).Str("scheme", parts[0]).Msg("admin command refused: not authorized")
		return 403, "Not authorized"
	default:
		return 500, "Error occurred during auth"
	}
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

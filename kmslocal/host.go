package kmslocal

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Limits bounds what one connection can hold of a server made by
// HTTPServer. Zero fields mean no limit.
type Limits struct {
	ReadHeaderTimeout time.Duration // request line and headers
	ReadTimeout       time.Duration // whole request, body included
	WriteTimeout      time.Duration // from the end of the headers to the end of the response
	IdleTimeout       time.Duration // between requests on a kept-alive connection
	MaxHeaderBytes    int           // request line and headers
}

// DefaultLimits returns the limits cmd/kmslocal serves with: 5 s for the
// headers, 30 s for the whole request and for the response, 60 s idle,
// 64 KiB of headers. Request bodies are limited to 1 MiB by the Server.
func DefaultLimits() Limits {
	return Limits{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// HTTPServer returns an http.Server serving s on a listener whose address
// is addr, with limits lim and behind the Host rule (Handler) for
// ListenHosts(addr) plus extraHosts.
func (s *Server) HTTPServer(addr net.Addr, lim Limits, extraHosts ...string) *http.Server {
	return &http.Server{
		Handler:           s.Handler(append(ListenHosts(addr), extraHosts...)...),
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
	}
}

// Handler returns s behind the Host rule: a request whose Host header is
// not one of hosts (ASCII case-insensitive, "host:port" as in a URL) is
// refused with status 421 and an AccessDeniedException, before its body
// is read. A web page that DNS rebinding points at the server sends its
// own host name, so it cannot reach the keys. No hosts refuses everything.
func (s *Server) Handler(hosts ...string) http.Handler {
	allowed := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		allowed[strings.ToLower(h)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allowed[strings.ToLower(r.Host)] {
			s.ServeHTTP(w, r)
			return
		}
		host := r.Host
		if len(host) > 100 {
			host = host[:100] + "..."
		}
		b, _ := json.Marshal(struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}{"AccessDeniedException", fmt.Sprintf("kmslocal: Host %q is not this server's address", host)})
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusMisdirectedRequest)
		w.Write(b)
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "request for another host refused",
			slog.String("host", host), slog.String("remote", r.RemoteAddr))
	})
}

// ListenHosts returns the Host header values that name a server listening
// on addr (a *net.TCPAddr): "IP:PORT", with "localhost:PORT" for loopback
// addresses; for an unspecified address (0.0.0.0, ::), those of every
// interface address. Port 80 and 443 add the values without a port.
func ListenHosts(addr net.Addr) []string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return nil
	}
	ips := []net.IP{tcp.IP}
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		if as, err := net.InterfaceAddrs(); err == nil {
			for _, a := range as {
				if n, ok := a.(*net.IPNet); ok {
					ips = append(ips, n.IP)
				}
			}
		}
	}
	port := strconv.Itoa(tcp.Port)
	var out []string
	add := func(host string) {
		out = append(out, net.JoinHostPort(host, port))
		if port == "80" || port == "443" {
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			out = append(out, host)
		}
	}
	for _, ip := range ips {
		if ip.IsLoopback() {
			add("localhost")
		}
		if ip4 := ip.To4(); ip4 != nil {
			ip = ip4
		}
		add(ip.String())
	}
	return out
}

// Command s3fake serves in-memory gofakes3 S3 servers on loopback for the
// tests of the phicrypt module, which start it through internal/s3test.
// It is a module of its own so that gofakes3 and what it needs stay out of
// the go.mod of every program that imports phicrypt.
//
// It reads commands from stdin, one a line, and answers each on stdout:
//
//	new [noversioning]   start a server with an empty store; answers its URL
//	close URL            stop that server; answers "ok"
//
// Every server listens on 127.0.0.1 over plain HTTP (behind TLS gofakes3
// stores aws-chunked framing as data). At the end of stdin, which is when
// the test process that started it exits, s3fake exits.
package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	servers := map[string]*http.Server{}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		var reply string
		switch {
		case len(f) >= 1 && f[0] == "new":
			url, srv, err := start(f[1:])
			if err != nil {
				reply = "error " + err.Error()
				break
			}
			servers[url] = srv
			reply = url
		case len(f) == 2 && f[0] == "close":
			if srv := servers[f[1]]; srv != nil {
				srv.Close()
				delete(servers, f[1])
			}
			reply = "ok"
		default:
			reply = fmt.Sprintf("error unknown command %q", in.Text())
		}
		fmt.Println(reply)
	}
}

// start serves a new gofakes3 with an empty in-memory store.
func start(args []string) (string, *http.Server, error) {
	opts := []gofakes3.Option{gofakes3.WithLogger(gofakes3.DiscardLog())}
	for _, a := range args {
		if a != "noversioning" {
			return "", nil, fmt.Errorf("unknown option %q", a)
		}
		opts = append(opts, gofakes3.WithoutVersioning())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: gofakes3.New(s3mem.New(), opts...).Server()}
	go srv.Serve(l)
	return "http://" + l.Addr().String(), srv, nil
}

package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gokeeper/gokeeper/server"
)

// statusTimeout bounds connecting to the server and reading its answer;
// ZooKeeper's FourLetterWordMain uses the same 5 s.
const statusTimeout = 5 * time.Second

// Status reports whether the server configured by cfg is running and in
// which mode, as `zkServer.sh status` does: it finds the client port
// (clientPort, else this server's server.N client part, else
// secureClientPort), prints "Client port found: N. Client address: A.
// Client SSL: false.", sends the srvr four-letter word and prints its
// "Mode: standalone|leader|follower|observer" line. It returns 0 on
// success and 1, after zkServer.sh's "Error contacting service. It is
// probably not running.", when the server cannot be reached or answers
// without a mode.
//
// NB: zkServer.sh has no fallback for a non-whitelisted srvr because
// ZooKeeper always enables srvr; a server that refused it would get the
// same error.
func Status(cfg server.Config, out io.Writer) (exitCode int) {
	return status(cfg, out, statusTimeout)
}

func status(cfg server.Config, out io.Writer, timeout time.Duration) int {
	port := cfg.ClientPort
	addr := cfg.ClientPortAddress
	secure := false
	if port == 0 {
		if cfg.ServerID == server.UnsetServerID && len(cfg.Servers) > 0 {
			fmt.Fprintln(out, "myid could not be determined, will not able to locate clientPort in the server configs.")
		}
		fmt.Fprintln(out, "Client port not found. Looking for secureClientPort in the static config.")
		if cfg.SecureClientPort == 0 {
			fmt.Fprintln(out, "Unable to find either secure or unsecure client port in any configs. Terminating.")
			return 1
		}
		port, addr, secure = cfg.SecureClientPort, cfg.SecureClientPortAddress, true
	}
	if addr == "" || addr == "0.0.0.0" {
		// NB: zkServer.sh keeps a literal 0.0.0.0 (connecting to it
		// reaches this host); localhost says the same more plainly.
		addr = "localhost"
	}
	fmt.Fprintf(out, "Client port found: %d. Client address: %s. Client SSL: %t.\n", port, addr, secure)
	reply, err := fourLetterWord(net.JoinHostPort(addr, strconv.Itoa(port)), "srvr", secure, timeout)
	var modes []string
	if err == nil {
		sc := bufio.NewScanner(strings.NewReader(reply))
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Mode") {
				modes = append(modes, strings.Join(strings.Fields(sc.Text()), " "))
			}
		}
	}
	if len(modes) == 0 {
		if secure {
			fmt.Fprintf(out, " \nNote: We used secureClientPort (%d) to establish connection, but we failed. The 'status'\n", port)
			fmt.Fprintln(out, "  command establishes a client connection to the server to execute diagnostic commands.")
			fmt.Fprintln(out, "  gokeeper verifies the server certificate against the system roots.")
			fmt.Fprintln(out, " ")
		}
		fmt.Fprintln(out, "Error contacting service. It is probably not running.")
		return 1
	}
	fmt.Fprintln(out, strings.Join(modes, " "))
	return 0
}

// fourLetterWord sends a four-letter word to hostport and returns all the
// server writes before it closes the connection.
func fourLetterWord(hostport, word string, secure bool, timeout time.Duration) (string, error) {
	d := net.Dialer{Timeout: timeout}
	var conn net.Conn
	var err error
	if secure {
		host, _, _ := net.SplitHostPort(hostport)
		conn, err = tls.DialWithDialer(&d, "tcp", hostport, &tls.Config{ServerName: host})
	} else {
		conn, err = d.Dial("tcp", hostport)
	}
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(conn, word); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(conn, 1<<20))
	if err != nil && len(b) == 0 {
		return "", err
	}
	return string(b), nil
}

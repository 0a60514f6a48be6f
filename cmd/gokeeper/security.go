package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/gokeeper/gokeeper/internal/jaas"
	"github.com/gokeeper/gokeeper/internal/zktls"
	"github.com/gokeeper/gokeeper/server"
	"github.com/gokeeper/gokeeper/wire"
)

// Client-port security from ZooKeeper's settings: the secure client port
// (secureClientPort, ssl.*), read from zoo.cfg keys and -Dzookeeper.*
// flags alike (both land in Config.SystemProperties, see jvmflags.go).

// Connection factories ZooKeeper users name in serverCnxnFactory. gokeeper
// has one connection layer that serves plaintext and TLS ports alike, so
// either is accepted; ZooKeeper needs Netty's for a secure port.
const (
	nettyFactory = "org.apache.zookeeper.server.NettyServerCnxnFactory"
	nioFactory   = "org.apache.zookeeper.server.NIOServerCnxnFactory"
)

// sysProp looks up a system property by its zoo.cfg key.
func sysProp(cfg server.Config) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := cfg.SystemProperties[k]
		return v, ok
	}
}

// clientPorts returns the client ports cfg asks for, plaintext first,
// with the TLS configuration of the secure one, and notes for the start-up
// log. A bad ssl.* setting (a store that does not open, a wrong password)
// is an error naming its key.
func clientPorts(cfg server.Config, wo *wire.Options) ([]wire.Port, []string, error) {
	var ports []wire.Port
	var notes []string
	if f, ok := cfg.SystemProperties["serverCnxnFactory"]; ok && f != nettyFactory && f != nioFactory {
		notes = append(notes, fmt.Sprintf("serverCnxnFactory %q: ignored, gokeeper has its own connection layer", f))
	}
	if v, ok := cfg.SystemProperties["client.secure"]; ok {
		notes = append(notes, fmt.Sprintf("client.secure=%s: a client setting, ignored by the server (secureClientPort makes the TLS port)", v))
	}
	if v := cfg.SystemProperties["client.portUnification"]; strings.EqualFold(strings.TrimSpace(v), "true") {
		notes = append(notes, "client.portUnification=true: not supported yet, clientPort serves plaintext only (use secureClientPort for TLS)")
	}
	if cfg.ClientPort != 0 {
		ports = append(ports, wire.Port{Addr: net.JoinHostPort(cfg.ClientPortAddress, strconv.Itoa(cfg.ClientPort))})
	}
	if cfg.SecureClientPort == 0 {
		return ports, notes, nil
	}
	o, err := zktls.FromProperties("ssl.", sysProp(cfg))
	if err != nil {
		return nil, nil, err
	}
	tc, tnotes, err := o.ServerConfig()
	if err != nil {
		return nil, nil, err
	}
	notes = append(notes, tnotes...)
	wo.TLSHandshakeTimeout = o.HandshakeDeadline()
	if v, ok := cfg.SystemProperties["netty.server.outstandingHandshake.limit"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, nil, &server.ConfigError{Key: "netty.server.outstandingHandshake.limit", Value: v, Reason: "not an integer"}
		}
		wo.MaxTLSHandshakes = max(n, 0) // NB: ZooKeeper's -1 is no limit
	}
	ports = append(ports, wire.Port{Addr: net.JoinHostPort(cfg.SecureClientPortAddress, strconv.Itoa(cfg.SecureClientPort)), TLS: tc})
	return ports, notes, nil
}

// JAAS login modules of a Server section.
const (
	digestLoginModule = "org.apache.zookeeper.server.auth.DigestLoginModule"
	krb5LoginModule   = "com.sun.security.auth.module.Krb5LoginModule"
)

// loadJAAS reads the JAAS file java.security.auth.login.config names (a
// -D flag) and takes the DIGEST-MD5 users (user_<name>="password") of its
// Server section (or the one sasl.serverconfig names) into
// cfg.SASLUsers, as ZooKeeper's SaslServerCallbackHandler does. A file
// that does not parse, or lacks the section, stops the start as it stops
// ZooKeeper's; so does a Kerberos login module: GSSAPI is not supported.
func loadJAAS(cfg *server.Config) error {
	const key = "java.security.auth.login.config"
	path, ok := cfg.SystemProperties[key]
	if !ok {
		return nil
	}
	section := "Server"
	if s, ok := cfg.SystemProperties["sasl.serverconfig"]; ok && s != "" {
		section = s
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return &server.ConfigError{Key: key, Value: path, Reason: err.Error()}
	}
	jc, err := jaas.Parse(string(text))
	if err != nil {
		return &server.ConfigError{Key: key, Value: path, Reason: err.Error()}
	}
	entries, ok := jc[section]
	if !ok {
		return &server.ConfigError{Key: key, Value: path, Reason: fmt.Sprintf("no JAAS configuration section named '%s'", section)}
	}
	users := map[string]string{}
	for _, e := range entries {
		switch e.Module {
		case digestLoginModule:
		case krb5LoginModule:
			return &server.ConfigError{Key: key, Value: path, Reason: fmt.Sprintf("section %s: Kerberos (GSSAPI) is not supported yet; only DigestLoginModule (DIGEST-MD5)", section)}
		default:
			return &server.ConfigError{Key: key, Value: path, Reason: fmt.Sprintf("section %s: login module %s is not supported; only DigestLoginModule (DIGEST-MD5)", section, e.Module)}
		}
		for k, v := range e.Options {
			if u, ok := strings.CutPrefix(k, "user_"); ok {
				users[u] = v
			}
		}
	}
	cfg.SASLUsers = users
	return nil
}

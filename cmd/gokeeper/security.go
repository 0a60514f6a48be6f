package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/internal/jaas"
	"github.com/gokeeper/gokeeper/internal/zktls"
	"github.com/gokeeper/gokeeper/quorum/transport"
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
// that does not parse stops the start as it stops ZooKeeper's; so does a
// Kerberos login module: GSSAPI is not supported. A file without the
// section (one for quorum SASL only) leaves the client port without
// SASL, as in ZooKeeper.
func loadJAAS(cfg *server.Config) error {
	if _, ok := cfg.SystemProperties[jaasKey]; !ok {
		return nil
	}
	section := "Server"
	if s, ok := cfg.SystemProperties["sasl.serverconfig"]; ok && s != "" {
		section = s
	}
	opts, found, err := jaasSection(*cfg, section, jaasKey)
	if err != nil {
		return err
	}
	if !found {
		cfg.Notes = append(cfg.Notes, fmt.Sprintf("%s: no section %s, so no SASL on the client port", cfg.SystemProperties[jaasKey], section))
		return nil
	}
	cfg.SASLUsers = jaasUsers(opts)
	return nil
}

// jaasKey is the system property naming the JAAS file.
const jaasKey = "java.security.auth.login.config"

// jaasSection reads the JAAS file and returns the options of section's
// DigestLoginModule entries, and whether the section exists. A missing
// or bad file, or another login module, is an error naming the JAAS
// file's property or, for a Kerberos module, key: the setting that asked
// for the section.
func jaasSection(cfg server.Config, section, key string) (opts []map[string]string, found bool, err error) {
	path, ok := cfg.SystemProperties[jaasKey]
	if !ok {
		return nil, false, &server.ConfigError{Key: key, Reason: fmt.Sprintf("needs a JAAS file with a %s section: set -D%s in SERVER_JVMFLAGS", section, jaasKey)}
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, false, &server.ConfigError{Key: jaasKey, Value: path, Reason: err.Error()}
	}
	jc, err := jaas.Parse(string(text))
	if err != nil {
		return nil, false, &server.ConfigError{Key: jaasKey, Value: path, Reason: err.Error()}
	}
	entries, ok := jc[section]
	if !ok {
		return nil, false, nil
	}
	var out []map[string]string
	for _, e := range entries {
		switch e.Module {
		case digestLoginModule:
			out = append(out, e.Options)
		case krb5LoginModule:
			return nil, false, &server.ConfigError{Key: key, Reason: fmt.Sprintf("section %s of %s: Kerberos (GSSAPI) is not supported yet; only DigestLoginModule (DIGEST-MD5)", section, path)}
		default:
			return nil, false, &server.ConfigError{Key: jaasKey, Value: path, Reason: fmt.Sprintf("section %s: login module %s is not supported; only DigestLoginModule (DIGEST-MD5)", section, e.Module)}
		}
	}
	return out, true, nil
}

// jaasUsers returns the user_<name>="password" options, by name.
func jaasUsers(opts []map[string]string) map[string]string {
	users := map[string]string{}
	for _, o := range opts {
		for k, v := range o {
			if u, ok := strings.CutPrefix(k, "user_"); ok {
				users[u] = v
			}
		}
	}
	return users
}

// quorumSecurity builds cfg.QuorumSecurity from sslQuorum,
// portUnification and the ssl.quorum.* stores, and from quorum.auth.* and
// the JAAS QuorumServer and QuorumLearner sections, and returns notes for
// the start-up log. A standalone server has no quorum links: it reads
// none of it, as ZooKeeper does. Errors name the key at fault.
func quorumSecurity(cfg *server.Config, log zerolog.Logger) ([]string, error) {
	if !cfg.Distributed() || !(cfg.SSLQuorum || cfg.PortUnification || cfg.QuorumEnableSASL) {
		return nil, nil
	}
	sec := &transport.Security{AcceptPlain: cfg.PortUnification, Logger: log}
	var notes []string
	if cfg.SSLQuorum || cfg.PortUnification {
		o, err := zktls.FromProperties(zktls.QuorumPrefix, sysProp(*cfg))
		if err != nil {
			return nil, err
		}
		switch {
		case cfg.SSLQuorum:
			if sec.DialTLS, notes, err = o.ClientConfig(); err != nil {
				return nil, err
			}
			if sec.ServerTLS, _, err = o.ServerConfig(); err != nil {
				return nil, err
			}
		case o.KeyStoreLocation == "":
			// NB: ZooKeeper starts too, and fails each TLS peer.
			notes = append(notes, "portUnification=true without "+o.Key("keyStore.location")+": the quorum ports take plaintext peers only")
		default:
			if sec.ServerTLS, notes, err = o.ServerConfig(); err != nil {
				return nil, err
			}
		}
	}
	if cfg.QuorumEnableSASL {
		section := func(name, key string) ([]map[string]string, error) {
			opts, found, err := jaasSection(*cfg, name, "quorum.auth.enableSasl")
			if err == nil && !found {
				err = &server.ConfigError{Key: key, Value: name, Reason: fmt.Sprintf("no JAAS configuration section of that name in %s", cfg.SystemProperties[jaasKey])}
			}
			return opts, err
		}
		srv, err := section(cfg.QuorumServerLoginContext, "quorum.auth.server.saslLoginContext")
		if err != nil {
			return nil, err
		}
		learner, err := section(cfg.QuorumLearnerLoginContext, "quorum.auth.learner.saslLoginContext")
		if err != nil {
			return nil, err
		}
		sec.SASL = &transport.SASL{
			LearnerRequired: cfg.QuorumLearnerRequireSASL,
			ServerRequired:  cfg.QuorumServerRequireSASL,
			Users:           jaasUsers(srv),
		}
		for _, o := range learner {
			sec.SASL.Username, sec.SASL.Password = o["username"], o["password"]
		}
		if cfg.QuorumLearnerRequireSASL && sec.SASL.Username == "" {
			return nil, &server.ConfigError{Key: "quorum.auth.learnerRequireSasl", Value: "true",
				Reason: fmt.Sprintf("the JAAS section %s has no username", cfg.QuorumLearnerLoginContext)}
		}
		for _, s := range cfg.Servers {
			for _, a := range s.Addrs {
				sec.SASL.AuthzHosts = append(sec.SASL.AuthzHosts, a.Host)
			}
		}
	}
	cfg.QuorumSecurity = sec
	return notes, nil
}

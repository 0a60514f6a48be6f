package main

import (
	"fmt"
	"strings"

	"github.com/gokeeper/gokeeper/internal/zktls"
	"github.com/gokeeper/gokeeper/server"
)

// ZooKeeper's system properties. Operators of ZooKeeper set many of its
// settings as -Dkey=value JVM flags in SERVER_JVMFLAGS or JVMFLAGS, which
// zkServer.sh (and so the official Docker image) puts on the java command
// line, SERVER_JVMFLAGS first. gokeeper reads the -D entries of both
// variables, split on white space as the script's unquoted expansion
// does; the JVM's other flags (-Xmx, -XX:...) mean nothing here and are
// skipped.
//
// Which properties count, and their precedence, are ZooKeeper's: a zoo.cfg
// key that QuorumPeerConfig does not parse itself is stored as the system
// property zookeeper.<key> when the config is read, so for those keys
// (snapCount, forceSync, skipACL, jute.maxbuffer, 4lw.commands.whitelist,
// admin.*, ...) zoo.cfg wins over -D, and -D wins over the default. The
// keys QuorumPeerConfig parses (tickTime, dataDir, clientPort, ...) are
// no system properties: a -Dzookeeper.tickTime is ignored by ZooKeeper,
// and by gokeeper, which says so in a note. So is any property gokeeper
// does not read. A bad value of a property gokeeper reads stops the start
// with an error naming the flag and its variable.

// jvmFlagVars are the variables read, in the order zkServer.sh joins them.
var jvmFlagVars = []string{"SERVER_JVMFLAGS", "JVMFLAGS"}

// zooCfgOnlyKeys are the zoo.cfg keys ZooKeeper's QuorumPeerConfig parses
// itself: they are not system properties.
var zooCfgOnlyKeys = map[string]bool{
	"dataDir": true, "dataLogDir": true, "clientPort": true, "localSessionsEnabled": true,
	"localSessionsUpgradingEnabled": true, "clientPortAddress": true, "secureClientPort": true,
	"secureClientPortAddress": true, "observerMasterPort": true, "clientPortListenBacklog": true,
	"tickTime": true, "maxClientCnxns": true, "minSessionTimeout": true, "maxSessionTimeout": true,
	"initLimit": true, "syncLimit": true, "connectToLearnerMasterLimit": true, "electionAlg": true,
	"quorumListenOnAllIPs": true, "peerType": true, "syncEnabled": true, "dynamicConfigFile": true,
	"autopurge.snapRetainCount": true, "autopurge.purgeInterval": true, "standaloneEnabled": true,
	"reconfigEnabled": true, "metricsProvider.className": true, "metricsProvider.httpHost": true,
	"metricsProvider.httpPort": true, "metricsProvider.exportJvmInfo": true, "multiAddress.enabled": true,
	"sslQuorum": true, "portUnification": true, "sslQuorumReloadCertFiles": true, "quorum.auth.enableSasl": true,
	"quorum.auth.learnerRequireSasl": true, "quorum.auth.serverRequireSasl": true,
	"quorum.auth.learner.saslLoginContext": true, "quorum.auth.server.saslLoginContext": true,
	"quorum.auth.kerberos.servicePrincipal": true, "quorum.cnxn.threads.size": true,
}

// gokeeperSystemProperties are the zookeeper.* system properties gokeeper
// reads that are no fields of server.Config: they are kept in
// Config.SystemProperties, after this check of their value.
var gokeeperSystemProperties = map[string]func(key, value string) error{
	// NB: read without the zookeeper. prefix, as Boolean.getBoolean.
	"readonlymode.enabled": func(key, v string) error {
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return &server.ConfigError{Key: key, Value: v, Reason: "not true or false"}
		}
		return nil
	},
	"znode.container.checkIntervalMs": func(key, v string) error {
		n, err := parseInt(key, v, 32)
		if err == nil && n <= 0 {
			err = &server.ConfigError{Key: key, Value: v, Reason: "not a positive number of milliseconds"}
		}
		return err
	},
}

// noCheck accepts any value: the property is checked where it is used.
func noCheck(string, string) error { return nil }

// securitySystemProperties are the security settings gokeeper reads, by
// their zoo.cfg key (the system property without "zookeeper."). Their
// values are checked when the TLS configuration, the auth providers and
// the JAAS file are loaded at start-up, each error naming its key.
var securitySystemProperties = []string{
	"serverCnxnFactory", "client.secure", "client.portUnification",
	"netty.server.outstandingHandshake.limit", "ssl.authProvider",
	"superUser", "X509AuthenticationProvider.superUser",
	"kerberos.removeHostFromPrincipal", "kerberos.removeRealmFromPrincipal",
	"sessionRequireClientSASLAuth", "enforce.auth.enabled", "enforce.auth.schemes",
	"SASLAuthenticationProvider.superPassword", "sasl.serverconfig",
	"allowSaslFailedClients", "letAnySaslUserDoX", "DigestAuthenticationProvider.enabled",
}

// jvmOwnProperties are the JVM properties without the zookeeper. prefix
// that gokeeper reads: the JAAS file's path.
var jvmOwnProperties = map[string]bool{"java.security.auth.login.config": true}

func init() {
	for _, k := range securitySystemProperties {
		gokeeperSystemProperties[k] = noCheck
	}
	for _, k := range zktls.Properties {
		gokeeperSystemProperties["ssl."+k] = noCheck
		gokeeperSystemProperties[zktls.QuorumPrefix+k] = noCheck
	}
}

// systemPropertyCheck returns the check of a system property gokeeper
// reads, given its zoo.cfg key; authProvider.N are read whatever N.
func systemPropertyCheck(key string) (func(key, value string) error, bool) {
	if f, ok := gokeeperSystemProperties[key]; ok {
		return f, true
	}
	if strings.HasPrefix(key, "authProvider.") || strings.HasPrefix(key, "superUser.") || jvmOwnProperties[key] {
		return noCheck, true
	}
	return nil, false
}

// sysProperty is one -D flag gokeeper reads: key is its zoo.cfg key.
type sysProperty struct {
	flag   string // as given, "-Dzookeeper.snapCount=1000"
	origin string // the variable it came from
	key    string
	value  string
}

// name is how errors name the flag.
func (p sysProperty) name() string {
	name, _, _ := strings.Cut(p.flag, "=")
	return name + " (" + p.origin + ")"
}

// apply sets the property in cfg.
func (p sysProperty) apply(cfg *server.Config) error {
	if set, ok := zooCfgKeys[p.key]; ok {
		return set(cfg, p.name(), p.value)
	}
	check, _ := systemPropertyCheck(p.key)
	if err := check(p.name(), p.value); err != nil {
		return err
	}
	if cfg.SystemProperties == nil {
		cfg.SystemProperties = map[string]string{}
	}
	cfg.SystemProperties[p.key] = p.value
	return nil
}

// jvmSystemProperties returns the -D flags of SERVER_JVMFLAGS and JVMFLAGS
// that gokeeper reads, in the order to apply them, leaving out those a
// zoo.cfg key in props overrides, and notes on the flags it ignores.
func jvmSystemProperties(env func(string) string, props []property) ([]sysProperty, []string, error) {
	inZooCfg := map[string]bool{}
	for _, p := range props {
		inZooCfg[canonicalKey(p.key)] = true
	}
	var out []sysProperty
	var notes []string
	for _, origin := range jvmFlagVars {
		for _, f := range strings.Fields(env(origin)) {
			name, ok := strings.CutPrefix(f, "-D")
			if !ok {
				continue
			}
			name, value, _ := strings.Cut(name, "=")
			if name == "" {
				return nil, nil, &server.ConfigError{Key: origin, Value: f, Reason: "a -D flag without a property name"}
			}
			p := sysProperty{flag: f, origin: origin, value: value}
			key, known := systemPropertyKey(name)
			switch {
			case !known && zooCfgOnlyKeys[key]:
				notes = append(notes, fmt.Sprintf("%s: ignored, as ZooKeeper does: %s is read from zoo.cfg only", p.name(), key))
				continue
			case !known:
				notes = append(notes, fmt.Sprintf("%s: ignored: not a system property gokeeper reads", p.name()))
				continue
			case inZooCfg[key]:
				notes = append(notes, fmt.Sprintf("%s: overridden by zoo.cfg's %s, as in ZooKeeper", p.name(), key))
				continue
			}
			p.key = key
			// NB: the JVM keeps the last of repeated -D flags.
			for i := range out {
				if out[i].key == key {
					out = append(out[:i], out[i+1:]...)
					break
				}
			}
			out = append(out, p)
		}
	}
	return out, notes, nil
}

// systemPropertyKey maps a system property name to its zoo.cfg key, and
// reports whether gokeeper reads that property. For a name it does not
// read, the key returned is the name without its zookeeper. prefix.
func systemPropertyKey(name string) (string, bool) {
	key := canonicalKey(name)
	if key == "jute.maxbuffer" || key == "readonlymode.enabled" {
		// NB: ZooKeeper reads these without the prefix.
		return key, true
	}
	rest, ok := strings.CutPrefix(name, "zookeeper.")
	if !ok {
		return name, jvmOwnProperties[name]
	}
	if _, known := zooCfgKeys[key]; known && !zooCfgOnlyKeys[key] {
		return key, true
	}
	if _, known := systemPropertyCheck(rest); known {
		return rest, true
	}
	return rest, false
}

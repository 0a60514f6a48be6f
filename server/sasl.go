package server

import (
	crand "crypto/rand"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gokeeper/gokeeper/internal/sasl"
	"github.com/gokeeper/gokeeper/jute"
)

// SASL on the client port, as ZooKeeperServer.processSasl runs it: a
// client sends GetSASLRequest tokens (op 102) and gets SetSASLResponse
// tokens back until the mechanism completes; the session then gets the
// id sasl:<authorized id>. The mechanism is DIGEST-MD5 with the users of
// the JAAS file's Server section (Config.SASLUsers).

// SASLAuthProvider is ZooKeeper's SASLAuthenticationProvider: it checks
// sasl ACLs; the ids come from the SASL exchange, never from an auth
// packet.
type SASLAuthProvider struct {
	// LetAnyUserDoX is zookeeper.letAnySaslUserDoX: an ACL id equal to it
	// matches every SASL user.
	LetAnyUserDoX string
}

// Scheme returns "sasl".
func (SASLAuthProvider) Scheme() string { return SchemeSASL }

// Authenticate fails: SASL is negotiated by its own packets.
func (SASLAuthProvider) Authenticate(*AuthAttempt) ([]jute.Id, jute.Code) {
	return nil, jute.CodeAuthFailed
}

// IsAuthenticated returns true.
func (SASLAuthProvider) IsAuthenticated() bool { return true }

// IsValid reports whether id is a valid Kerberos-style name.
func (SASLAuthProvider) IsValid(id string) bool {
	_, _, _, ok := parseKerberosName(id)
	return ok
}

// Matches is ZooKeeper's: the ids are equal, or the session's is "super",
// or the ACL's is letAnySaslUserDoX.
func (p SASLAuthProvider) Matches(id, aclExpr string) bool {
	return id == "super" || id == aclExpr || (p.LetAnyUserDoX != "" && aclExpr == p.LetAnyUserDoX)
}

// UserName returns id.
func (SASLAuthProvider) UserName(id string) string { return id }

// kerberosNameRE is KerberosName's parser: primary[/instance]@REALM.
var kerberosNameRE = regexp.MustCompile(`^([^/@]*)(/([^/@]*))?@([^/@]*)$`)

// parseKerberosName splits a principal; a name without '@' is all
// service name. A name with '@' that does not parse is invalid.
func parseKerberosName(name string) (service, host, realm string, ok bool) {
	m := kerberosNameRE.FindStringSubmatch(name)
	if m == nil {
		if strings.Contains(name, "@") {
			return "", "", "", false
		}
		return name, "", "", true
	}
	return m[1], m[3], m[4], true
}

// saslAuthorizedID is SaslServerCallbackHandler's authorized id: the
// short name, then /host unless kerberos.removeHostFromPrincipal, then
// @realm unless kerberos.removeRealmFromPrincipal. NB: with no
// auth_to_local rules the short name is the service name.
func (s *Server) saslAuthorizedID(authn string) string {
	service, host, realm, _ := parseKerberosName(authn)
	id := service
	if host != "" && s.cfg.SystemProperties["kerberos.removeHostFromPrincipal"] != "true" {
		id += "/" + host
	}
	if realm != "" && s.cfg.SystemProperties["kerberos.removeRealmFromPrincipal"] != "true" {
		id += "@" + realm
	}
	return id
}

// isSASLSuperUser reports whether id is named by zookeeper.superUser or
// any zookeeper.superUser.* property, as ZooKeeperServer checks it.
func (s *Server) isSASLSuperUser(id string) bool {
	if id == "" {
		return false
	}
	for k, v := range s.cfg.SystemProperties {
		if (k == "superUser" || strings.HasPrefix(k, "superUser.")) && v == id {
			return true
		}
	}
	return false
}

// saslPassword returns a DIGEST-MD5 user's password; super's is
// SASLAuthenticationProvider.superPassword when that is set.
func (s *Server) saslPassword(user string) (string, bool) {
	if user == "super" {
		if p, ok := s.cfg.SystemProperties["SASLAuthenticationProvider.superPassword"]; ok {
			return p, true
		}
	}
	p, ok := s.cfg.SASLUsers[user]
	return p, ok
}

// AuthEnforcement is what enforce.auth.* and sessionRequireClientSASLAuth
// select: whether every request but auth and SASL needs an id of one of
// Schemes first.
type AuthEnforcement struct {
	Enabled bool
	Schemes []string
}

// SASLRequired reports whether the sasl scheme is enforced.
func (e AuthEnforcement) SASLRequired() bool {
	return e.Enabled && slices.Contains(e.Schemes, SchemeSASL)
}

// AuthEnforcement reads ZooKeeper's AuthenticationHelper settings:
// sessionRequireClientSASLAuth=true enforces sasl; otherwise
// enforce.auth.enabled with enforce.auth.schemes (comma separated). Each
// scheme needs a provider.
func (c Config) AuthEnforcement(reg *AuthRegistry) (AuthEnforcement, error) {
	var e AuthEnforcement
	if c.sysBool("sessionRequireClientSASLAuth", false) {
		e = AuthEnforcement{Enabled: true, Schemes: []string{SchemeSASL}}
	} else {
		e.Enabled = c.sysBool("enforce.auth.enabled", false)
		if v, ok := c.SystemProperties["enforce.auth.schemes"]; ok {
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					e.Schemes = append(e.Schemes, s)
				}
			}
		}
	}
	if !e.Enabled {
		return e, nil
	}
	if len(e.Schemes) == 0 {
		return e, configErr("enforce.auth.schemes", "", "must be set when enforce.auth.enabled is true")
	}
	for _, s := range e.Schemes {
		if reg.Provider(s) == nil {
			key := "enforce.auth.schemes"
			if s == SchemeSASL && c.sysBool("sessionRequireClientSASLAuth", false) {
				key = "sessionRequireClientSASLAuth"
			}
			return e, configErr(key, s, fmt.Sprintf("authentication scheme %s is not available (add authProvider.N for it)", s))
		}
	}
	return e, nil
}

// enforced reports whether the client may send requests under the auth
// enforcement: it has an id of an enforced scheme.
func (c *Client) enforced() bool {
	e := c.s.enforce
	if !e.Enabled {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range c.mu.auth {
		if slices.Contains(e.Schemes, id.Scheme) {
			return true
		}
	}
	return false
}

// handleSASL answers one SASL packet, at once and under its own xid, as
// ZooKeeper's processSasl does. A failed exchange is logged and counted
// (auth_failed_count), answered AuthFailed (SessionClosedRequireSASLAuth
// when SASL is enforced) and the connection is closed, unless
// allowSaslFailedClients lets it go on unauthenticated.
func (c *Client) handleSASL(xid int32, body []byte) {
	s := c.s
	if s.cfg.SASLUsers == nil {
		// NB: no JAAS Server section: no SASL server.
		s.log.Warn().Str("session", sessionHex(c.session)).Str("client", c.remoteIP).Msg("SASL is not configured (no JAAS Server section), closing connection")
		c.sink.Close("sasl not configured")
		return
	}
	var req jute.GetSASLRequest
	if err := jute.Unmarshal(body, &req, s.cfg.JuteMaxBuffer); err != nil {
		c.sink.Close("malformed sasl packet")
		return
	}
	if c.sasl == nil {
		c.sasl = &sasl.DigestMD5{Password: s.saslPassword, Rand: crand.Reader}
	}
	tok, err := c.sasl.Step(req.Token)
	if err != nil {
		s.Stats.AuthFailed.Add(1)
		s.log.Warn().Err(err).Str("session", sessionHex(c.session)).Str("client", c.remoteIP).Msg("client failed to SASL authenticate")
		required := s.enforce.SASLRequired()
		if s.cfg.sysBool("allowSaslFailedClients", false) && !required {
			c.sink.Reply(xid, 0, jute.CodeOK, (&jute.SetSASLResponse{}).Encode(nil))
			return
		}
		code := jute.CodeAuthFailed
		if required {
			code = jute.CodeSessionClosedRequireSASLAuth
		}
		c.sink.Reply(xid, 0, code, (&jute.SetSASLResponse{}).Encode(nil))
		c.sink.Close("sasl authentication failed")
		return
	}
	if c.sasl.Complete() {
		id := s.saslAuthorizedID(c.sasl.AuthenticationID())
		ids := []jute.Id{{Scheme: SchemeSASL, Id: id}}
		if s.isSASLSuperUser(id) {
			ids = append(ids, jute.Id{Scheme: SchemeSuper, Id: ""})
		}
		c.AddAuth(ids)
		s.log.Info().Str("session", sessionHex(c.session)).Str("client", c.remoteIP).Str("id", id).Msg("SASL authenticated")
	}
	c.sink.Reply(xid, 0, jute.CodeOK, (&jute.SetSASLResponse{Token: tok}).Encode(nil))
}

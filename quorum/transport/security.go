package transport

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/gokeeper/gokeeper/internal/sasl"
	"github.com/gokeeper/gokeeper/internal/zktls"
	"github.com/gokeeper/gokeeper/jute"
)

// Errors of secured quorum connections.
var (
	// ErrTLS means a TLS handshake failed, or a plaintext peer was refused
	// on a TLS-only port.
	ErrTLS = errors.New("transport: quorum TLS failed")
	// ErrQuorumAuth means the quorum SASL exchange failed or was missing
	// where required.
	ErrQuorumAuth = errors.New("transport: quorum SASL authentication failed")
)

// QuorumAuthMagic opens every QuorumAuthPacket (ZooKeeper's
// QuorumAuth.QUORUM_AUTH_MAGIC_NUMBER). NB: Java writes it
// -0xa0dbcafecafe1234L and calls it negative, but that literal is already
// a negative long, so the magic is this positive number.
const QuorumAuthMagic int64 = 0x5f2435013501edcc

// QuorumAuthPacket statuses.
const (
	AuthInProgress int32 = 0
	AuthSuccess    int32 = 1
	AuthError      int32 = -1
)

// maxAuthToken bounds a SASL token read before the peer is authenticated;
// DIGEST-MD5's are a few hundred bytes.
const maxAuthToken = 64 << 10

// maxAuthRounds is how many challenges a server sends before it gives up
// (ZooKeeper's SaslQuorumAuthServer.MAX_RETRIES).
const maxAuthRounds = 5

// Security secures the election and quorum connections as ZooKeeper's
// sslQuorum, portUnification and quorum.auth.* settings do. A nil
// *Security is plaintext without authentication.
//
// TLS comes first, on the raw connection. SASL then runs on the quorum
// port before the learner's first packet, and on the election port right
// after the dialer's handshake (whatever the sids: a dialer that will
// drop the connection authenticates first), in QuorumAuthPacket records:
//
//	+----------------------+---------------+------------------------------+
//	| magic (int64)        | status (int32)| token (int32 len + bytes,    |
//	| 0x5f2435013501edcc   | 0, 1 or -1    | -1 = null)                   |
//	+----------------------+---------------+------------------------------+
//
// The learner (dialer) sends an empty token IN_PROGRESS; the server
// answers IN_PROGRESS with its DIGEST-MD5 challenge; the learner sends
// its response; the server ends with SUCCESS and its rspauth, or ERROR.
type Security struct {
	// ServerTLS, if set, is the TLS of accepted connections: set with
	// sslQuorum or portUnification.
	ServerTLS *tls.Config
	// DialTLS, if set, makes dialled connections TLS (sslQuorum).
	DialTLS *zktls.Client
	// AcceptPlain lets peers that do not start TLS in beside those that
	// do (portUnification), as ZooKeeper's UnifiedServerSocket does for a
	// rolling upgrade to sslQuorum.
	AcceptPlain bool
	// SASL, if set, is quorum SASL (quorum.auth.enableSasl).
	SASL *SASL
	// Logger gets the refusals that do not close the connection.
	Logger zerolog.Logger
}

// SASL is quorum SASL with DIGEST-MD5: the users of the JAAS
// QuorumServer section check learners, the QuorumLearner section's
// credentials authenticate this member when it dials.
type SASL struct {
	// LearnerRequired (quorum.auth.learnerRequireSasl) makes this member
	// authenticate when it dials; otherwise it sends no auth packets.
	LearnerRequired bool
	// ServerRequired (quorum.auth.serverRequireSasl) closes connections
	// of learners that do not authenticate or fail; otherwise they stay.
	ServerRequired bool
	// Users are the QuorumServer section's user_<name> passwords.
	Users map[string]string
	// Username and Password are the QuorumLearner section's.
	Username, Password string
	// AuthzHosts are the hosts of the server.N lines: a user named
	// service/host@REALM is authorized only from one of them.
	AuthzHosts []string
}

// bufConn reads a connection through a buffer, so that its first bytes
// can be peeked at and still read by whoever comes next.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func newBufConn(nc net.Conn) *bufConn {
	if bc, ok := nc.(*bufConn); ok {
		return bc
	}
	return &bufConn{Conn: nc, r: bufio.NewReader(nc)}
}

// Dial connects to addr within timeout and, with DialTLS, completes a TLS
// handshake within the same bound. ctx cancels the dial.
func (s *Security) Dial(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil || s == nil || s.DialTLS == nil {
		return nc, err
	}
	host, _, _ := net.SplitHostPort(addr)
	ip, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
	tc := tls.Client(nc, s.DialTLS.Config(host, ip))
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("%w: handshake with %s: %w", ErrTLS, addr, err)
	}
	return tc, nil
}

// Accept secures a connection the listener took. With ServerTLS it tells
// a TLS ClientHello from plaintext by the first bytes, as ZooKeeper's
// UnifiedServerSocket does: TLS is handshaken, plaintext is refused
// unless AcceptPlain. nc should carry a deadline. The connection returned
// replaces nc.
func (s *Security) Accept(nc net.Conn) (net.Conn, error) {
	if s == nil || s.ServerTLS == nil {
		return nc, nil
	}
	bc := newBufConn(nc)
	// NB: every plaintext first message (an election handshake, a
	// QuorumPacket, a QuorumAuthPacket) is longer than a TLS record
	// header, so waiting for five bytes cannot stall one.
	head, err := bc.r.Peek(5)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the first bytes: %w", ErrTLS, err)
	}
	if head[0] != 0x16 || head[1] != 0x03 { // not a TLS handshake record
		if !s.AcceptPlain {
			return nil, fmt.Errorf("%w: plaintext connection refused (sslQuorum without portUnification)", ErrTLS)
		}
		return bc, nil
	}
	tc := tls.Server(bc, s.ServerTLS)
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTLS, err)
	}
	return tc, nil
}

// AuthenticateLearner runs the learner's side of quorum SASL on a
// connection this member dialled, if it must authenticate
// (LearnerRequired). nc should carry a deadline.
func (s *Security) AuthenticateLearner(nc net.Conn) error {
	if s == nil || s.SASL == nil || !s.SASL.LearnerRequired {
		return nil
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: against %s: "+format, append([]any{ErrQuorumAuth, nc.RemoteAddr()}, args...)...)
	}
	cl := &sasl.DigestMD5Client{
		Username: s.SASL.Username, Password: s.SASL.Password, Rand: rand.Reader,
		Protocol: sasl.QuorumProtocol, ServerName: sasl.QuorumServerName,
	}
	if err := writeAuthPacket(nc, AuthInProgress, []byte{}); err != nil {
		return fail("%v", err)
	}
	for {
		status, token, err := readAuthPacket(nc)
		if err != nil {
			return fail("%v", err)
		}
		switch status {
		case AuthInProgress, AuthSuccess:
			out, err := cl.Step(token)
			if err != nil {
				return fail("%v", err)
			}
			if status == AuthSuccess {
				if out != nil || !cl.Complete() {
					return fail("the server ended the exchange early")
				}
				s.Logger.Info().Str("remote", nc.RemoteAddr().String()).Str("user", s.SASL.Username).Msg("authenticated to a quorum member with SASL")
				return nil
			}
			if err := writeAuthPacket(nc, AuthInProgress, out); err != nil {
				return fail("%v", err)
			}
		case AuthError:
			return fail("the server refused our credentials (the QuorumLearner section's username and password)")
		default:
			return fail("unknown status %d", status)
		}
	}
}

// AuthenticateServer runs the server's side of quorum SASL on an
// accepted connection. A learner that does not start with a
// QuorumAuthPacket, or fails, is refused (an error: close the connection)
// if ServerRequired, and otherwise only logged. nc should carry a
// deadline; the connection returned replaces it.
func (s *Security) AuthenticateServer(nc net.Conn) (net.Conn, error) {
	if s == nil || s.SASL == nil {
		return nc, nil
	}
	bc := newBufConn(nc)
	head, err := bc.r.Peek(8)
	if err != nil || int64(binary.BigEndian.Uint64(head)) != QuorumAuthMagic {
		if s.SASL.ServerRequired {
			return nil, fmt.Errorf("%w: learner %s not trying to authenticate and authentication is required", ErrQuorumAuth, nc.RemoteAddr())
		}
		return bc, nil
	}
	user, err := s.serverExchange(bc)
	switch {
	case err == nil:
		s.Logger.Info().Str("remote", nc.RemoteAddr().String()).Str("user", user).Msg("quorum learner authenticated with SASL")
	case s.SASL.ServerRequired:
		return nil, err
	default:
		s.Logger.Warn().Err(err).Str("remote", nc.RemoteAddr().String()).
			Msg("keeping the learner connection despite its SASL failure: quorum.auth.serverRequireSasl=false")
	}
	return bc, nil
}

// serverExchange runs DIGEST-MD5 with the learner and returns its user;
// a failure sends ERROR.
func (s *Security) serverExchange(bc *bufConn) (string, error) {
	fail := func(err error) (string, error) {
		_ = writeAuthPacket(bc, AuthError, []byte{})
		return "", fmt.Errorf("%w: learner %s: %w", ErrQuorumAuth, bc.RemoteAddr(), err)
	}
	d := &sasl.DigestMD5{
		Password: func(u string) (string, bool) { p, ok := s.SASL.Users[u]; return p, ok },
		Rand:     rand.Reader, Protocol: sasl.QuorumProtocol, ServerName: sasl.QuorumServerName,
	}
	for round := 0; ; round++ {
		_, token, err := readAuthPacket(bc)
		if err != nil {
			return fail(err)
		}
		out, err := d.Step(token)
		if err != nil {
			return fail(err)
		}
		if d.Complete() {
			if err := s.authorize(d.AuthenticationID(), d.AuthorizationID()); err != nil {
				return fail(err)
			}
			return d.AuthenticationID(), writeAuthPacket(bc, AuthSuccess, out)
		}
		if round >= maxAuthRounds {
			return fail(fmt.Errorf("no result after %d rounds", round))
		}
		if err := writeAuthPacket(bc, AuthInProgress, out); err != nil {
			return "", err
		}
	}
}

// authorize applies SaslQuorumServerCallbackHandler's rule: the learner
// acts as itself only, and a service/host@REALM name only from a host of
// the ensemble.
func (s *Security) authorize(authn, authz string) error {
	if authn != authz {
		return fmt.Errorf("%q may not act as %q", authn, authz)
	}
	if parts := strings.FieldsFunc(authz, func(r rune) bool { return r == '/' || r == '@' }); len(parts) == 3 && !slices.Contains(s.SASL.AuthzHosts, parts[1]) {
		return fmt.Errorf("%q is not authorized to connect: host %s is not in the ensemble", authz, parts[1])
	}
	return nil
}

func writeAuthPacket(w io.Writer, status int32, token []byte) error {
	p := jute.QuorumAuthPacket{Magic: QuorumAuthMagic, Status: status, Token: token}
	_, err := w.Write(p.Encode(nil))
	return err
}

// readAuthPacket reads one QuorumAuthPacket, its token bounded by
// maxAuthToken.
func readAuthPacket(r io.Reader) (int32, []byte, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	if magic := int64(binary.BigEndian.Uint64(hdr[:8])); magic != QuorumAuthMagic {
		return 0, nil, fmt.Errorf("not a quorum auth packet (magic %#x)", uint64(magic))
	}
	status := int32(binary.BigEndian.Uint32(hdr[8:12]))
	n := int32(binary.BigEndian.Uint32(hdr[12:]))
	if n == -1 {
		return status, nil, nil
	}
	if n < 0 || n > maxAuthToken {
		return 0, nil, fmt.Errorf("auth token of %d bytes", n)
	}
	token := make([]byte, n)
	if _, err := io.ReadFull(r, token); err != nil {
		return 0, nil, err
	}
	return status, token, nil
}

package zktls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// QuorumPrefix is the prefix of the quorum links' keys (ZooKeeper's
// QuorumX509Util): ssl.quorum.keyStore.location and so on.
const QuorumPrefix = "ssl.quorum."

// Client is the TLS side of an endpoint that dials: a quorum member
// opening an election or learner connection to another. It presents its
// key store's certificate (members authenticate each other, as ZooKeeper's
// quorum requires) and checks the other's chain against the trust store.
type Client struct {
	base       *tls.Config
	roots      *x509.CertPool // nil: the system's
	verifyHost bool
	crls       *crlCache
}

// ClientConfig loads the stores and returns the dialing side of o, and
// notes for the start-up log. Every error names the key at fault.
func (o Options) ClientConfig() (*Client, []string, error) {
	// NB: the server side checks the settings both share.
	srv, notes, err := o.ServerConfig()
	if err != nil {
		return nil, nil, err
	}
	c := &Client{
		base: &tls.Config{
			Certificates: srv.Certificates,
			MinVersion:   srv.MinVersion,
			MaxVersion:   srv.MaxVersion,
			CipherSuites: srv.CipherSuites,
			// NB: the chain and the host are verified by VerifyConnection,
			// which knows the address dialled.
			InsecureSkipVerify: true,
		},
		roots:      srv.ClientCAs,
		verifyHost: o.HostnameVerification,
	}
	if o.CRL {
		c.crls = newCRLCache()
	}
	return c, notes, nil
}

// ErrServerCert is wrapped by every refusal of the other end's certificate.
var ErrServerCert = errors.New("zktls: peer certificate refused")

// Config returns the configuration of one connection to host (as
// configured) that reached remoteIP. With hostname verification the
// peer's certificate must name the IP address or the host, as ZooKeeper's
// ZKTrustManager checks the address and then the host name.
func (c *Client) Config(host, remoteIP string) *tls.Config {
	cfg := c.base.Clone()
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("%w: no certificate", ErrServerCert)
		}
		leaf := cs.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, x := range cs.PeerCertificates[1:] {
			inter.AddCert(x)
		}
		chains, err := leaf.Verify(x509.VerifyOptions{Roots: c.roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if err != nil {
			return fmt.Errorf("%w: %w", ErrServerCert, err)
		}
		if c.verifyHost && leaf.VerifyHostname(remoteIP) != nil {
			if err := leaf.VerifyHostname(strings.Trim(host, "[]")); err != nil {
				return fmt.Errorf("%w: hostname verification of %s (%s): %w", ErrServerCert, host, remoteIP, err)
			}
		}
		if c.crls != nil {
			return c.crls.check(chains)
		}
		return nil
	}
	return cfg
}

// Package zktlstest makes certificates and key/trust stores for tests, with
// Go's crypto: a CA, certificates it issues, and the stores ZooKeeper reads
// (JKS, PKCS12, PEM) holding them, so that gokeeper and Apache ZooKeeper
// can be started side by side on the same files.
package zktlstest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"sync/atomic"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

var serial atomic.Int64

// CA is a certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// Cert is an issued certificate and its key.
type Cert struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// Chain is Cert then the CA's certificate.
	Chain []*x509.Certificate
}

// NewCA makes a self-signed CA named cn.
func NewCA(cn string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"gokeeper tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: c, Key: key}, nil
}

// Options shape an issued certificate.
type Options struct {
	// Subject is the certificate's subject.
	Subject pkix.Name
	// IPs and DNSNames are its subject alternative names; a server
	// certificate for loopback needs 127.0.0.1.
	IPs      []net.IP
	DNSNames []string
	// CRLURLs are its CRL distribution points.
	CRLURLs []string
	// NotAfter, if set, is its expiry (a past one makes it expired).
	NotAfter time.Time
}

// Issue makes a certificate signed by ca, usable by servers and clients.
func (ca *CA) Issue(o Options) (*Cert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	notAfter := o.NotAfter
	if notAfter.IsZero() {
		notAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               o.Subject,
		NotBefore:             time.Now().Add(-2 * time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:           o.IPs,
		DNSNames:              o.DNSNames,
		CRLDistributionPoints: o.CRLURLs,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Cert{Cert: c, Key: key, Chain: []*x509.Certificate{c, ca.Cert}}, nil
}

// CRL returns a DER CRL of ca revoking revoked.
func (ca *CA) CRL(revoked ...*x509.Certificate) ([]byte, error) {
	var entries []x509.RevocationListEntry
	for _, c := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	}
	return x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(serial.Add(1)),
		ThisUpdate:                time.Now().Add(-time.Minute),
		NextUpdate:                time.Now().Add(time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
}

// KeyStorePEM returns a PEM key store: the PKCS#8 key, then the chain.
func (c *Cert) KeyStorePEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, x := range c.Chain {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})
	}
	return b.Bytes(), nil
}

// KeyStorePKCS12 returns a PKCS12 key store opened by password, in the
// modern encoding Java 17 reads.
func (c *Cert) KeyStorePKCS12(password string) ([]byte, error) {
	return pkcs12.Modern.Encode(c.Key, c.Cert, c.Chain[1:], password)
}

// KeyStoreJKS returns a JKS key store with one key entry "key", opened by
// password (store and key alike, as ZooKeeper expects).
func (c *Cert) KeyStoreJKS(password string) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		return nil, err
	}
	ks := keystore.New()
	var chain []keystore.Certificate
	for _, x := range c.Chain {
		chain = append(chain, keystore.Certificate{Type: "X.509", Content: x.Raw})
	}
	if err := ks.SetPrivateKeyEntry("key", keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: der, CertificateChain: chain}, []byte(password)); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := ks.Store(&b, []byte(password)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// TrustStorePEM returns a PEM trust store of certs.
func TrustStorePEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, x := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})
	}
	return b.Bytes()
}

// TrustStorePKCS12 returns a Java PKCS12 trust store of certs.
func TrustStorePKCS12(password string, certs ...*x509.Certificate) ([]byte, error) {
	return pkcs12.Modern.EncodeTrustStore(certs, password)
}

// TrustStoreJKS returns a JKS trust store of certs.
func TrustStoreJKS(password string, certs ...*x509.Certificate) ([]byte, error) {
	ks := keystore.New()
	for i, x := range certs {
		if err := ks.SetTrustedCertificateEntry(string(rune('a'+i)), keystore.TrustedCertificateEntry{
			CreationTime: time.Now(), Certificate: keystore.Certificate{Type: "X.509", Content: x.Raw}}); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	if err := ks.Store(&b, []byte(password)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Must returns b, or panics on err: for test set-up.
func Must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// WriteFile writes b to path and returns path, or panics: for test set-up.
func WriteFile(path string, b []byte) string {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		panic(err)
	}
	return path
}

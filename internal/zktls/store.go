package zktls

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"
)

// The store formats ZooKeeper reads (its KeyStoreFileType). NB: JKS and
// PKCS12 are read by maintained libraries (keystore-go, go-pkcs12), and
// encrypted PKCS#8 keys in PEM files by youmark/pkcs8, rather than by a
// parser of ours: these are formats with integrity checks and key
// derivations where a hand-written reader is easy to get subtly wrong.
const (
	TypeJKS    = "JKS"
	TypePKCS12 = "PKCS12"
	TypePEM    = "PEM"
)

// storeType resolves a store's type as KeyStoreFileType does: the type
// key's value (any case) or else the file name's extension.
func (o Options) storeType(store, typ, location string) (string, error) {
	if typ != "" {
		switch t := strings.ToUpper(typ); t {
		case TypeJKS, TypePKCS12, TypePEM:
			return t, nil
		case "BCFKS":
			return "", o.errorf(store+".type", typ, "BCFKS (Bouncy Castle FIPS) stores are not supported; use JKS, PKCS12 or PEM")
		default:
			return "", o.errorf(store+".type", typ, "not JKS, PKCS12 or PEM")
		}
	}
	switch strings.ToLower(filepath.Ext(location)) {
	case ".jks":
		return TypeJKS, nil
	case ".p12", ".pfx":
		return TypePKCS12, nil
	case ".pem":
		return TypePEM, nil
	}
	return "", o.errorf(store+".location", location, "cannot tell the store type from the file name (.jks, .p12, .pem): set %s", o.Key(store+".type"))
}

// LoadKeyStore reads the key store: this end's private key and its
// certificate chain. A store with several keys yields each; Go's TLS
// picks among them per handshake as Java's key manager does.
func (o Options) LoadKeyStore() ([]tls.Certificate, error) {
	loc := o.KeyStoreLocation
	if loc == "" {
		return nil, o.errorf("keyStore.location", "", "not set")
	}
	typ, err := o.storeType("keyStore", o.KeyStoreType, loc)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(loc)
	if err != nil {
		return nil, o.errorf("keyStore.location", loc, "%v", err)
	}
	bad := func(err error) ([]tls.Certificate, error) {
		return nil, o.errorf("keyStore.location", loc, "%s key store: %v (wrong %s?)", typ, err, o.Key("keyStore.password"))
	}
	var out []tls.Certificate
	switch typ {
	case TypeJKS:
		ks := keystore.New(keystore.WithOrderedAliases())
		if err := ks.Load(bytes.NewReader(data), []byte(o.KeyStorePassword)); err != nil {
			return bad(err)
		}
		for _, alias := range ks.Aliases() {
			if !ks.IsPrivateKeyEntry(alias) {
				continue
			}
			// NB: Java's key manager opens every key entry with the
			// store's password.
			e, err := ks.GetPrivateKeyEntry(alias, []byte(o.KeyStorePassword))
			if err != nil {
				return bad(fmt.Errorf("entry %q: %w", alias, err))
			}
			key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
			if err != nil {
				return bad(fmt.Errorf("entry %q: %w", alias, err))
			}
			var chain [][]byte
			for _, c := range e.CertificateChain {
				chain = append(chain, c.Content)
			}
			c, err := keyPair(chain, key)
			if err != nil {
				return bad(fmt.Errorf("entry %q: %w", alias, err))
			}
			out = append(out, c)
		}
	case TypePKCS12:
		key, leaf, cas, err := pkcs12.DecodeChain(data, o.KeyStorePassword)
		if err != nil {
			return bad(err)
		}
		chain := [][]byte{leaf.Raw}
		for _, ca := range cas {
			chain = append(chain, ca.Raw)
		}
		c, err := keyPair(chain, key)
		if err != nil {
			return bad(err)
		}
		out = append(out, c)
	case TypePEM:
		var chain [][]byte
		var key any
		for rest := data; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			switch {
			case b.Type == "CERTIFICATE":
				chain = append(chain, b.Bytes)
			case strings.HasSuffix(b.Type, "PRIVATE KEY"):
				if key != nil {
					return bad(errors.New("more than one private key"))
				}
				if key, err = parsePEMKey(b, o.KeyStorePassword); err != nil {
					return bad(err)
				}
			}
		}
		if key == nil {
			return bad(errors.New("no private key"))
		}
		c, err := keyPair(chain, key)
		if err != nil {
			return bad(err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return bad(errors.New("no private key entry"))
	}
	return out, nil
}

// parsePEMKey decodes a PEM private key: PKCS#8, encrypted PKCS#8 (with
// the store's password), PKCS#1 RSA or SEC 1 EC.
func parsePEMKey(b *pem.Block, password string) (any, error) {
	switch b.Type {
	case "ENCRYPTED PRIVATE KEY":
		if password == "" {
			return nil, errors.New("the private key is encrypted and no password is set")
		}
		return pkcs8.ParsePKCS8PrivateKey(b.Bytes, []byte(password))
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(b.Bytes)
	}
	return x509.ParsePKCS8PrivateKey(b.Bytes)
}

// keyPair checks that key belongs to the chain's first certificate.
func keyPair(chain [][]byte, key any) (tls.Certificate, error) {
	if len(chain) == 0 {
		return tls.Certificate{}, errors.New("no certificate for the private key")
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return tls.Certificate{}, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return tls.Certificate{}, fmt.Errorf("unsupported private key type %T", key)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := signer.Public().(equaler)
	if !ok || !pub.Equal(leaf.PublicKey) {
		return tls.Certificate{}, errors.New("the private key does not match the certificate")
	}
	switch key.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
	default:
		return tls.Certificate{}, fmt.Errorf("unsupported private key type %T", key)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// LoadTrustStore reads the trust store: the certificates a peer's chain
// must lead to (the trusted-certificate entries of a JKS or PKCS12 store,
// every certificate of a PEM file).
func (o Options) LoadTrustStore() ([]*x509.Certificate, error) {
	loc := o.TrustStoreLocation
	if loc == "" {
		return nil, nil
	}
	typ, err := o.storeType("trustStore", o.TrustStoreType, loc)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(loc)
	if err != nil {
		return nil, o.errorf("trustStore.location", loc, "%v", err)
	}
	bad := func(err error) ([]*x509.Certificate, error) {
		return nil, o.errorf("trustStore.location", loc, "%s trust store: %v (wrong %s?)", typ, err, o.Key("trustStore.password"))
	}
	var out []*x509.Certificate
	switch typ {
	case TypeJKS:
		ks := keystore.New(keystore.WithOrderedAliases())
		if err := ks.Load(bytes.NewReader(data), []byte(o.TrustStorePassword)); err != nil {
			return bad(err)
		}
		for _, alias := range ks.Aliases() {
			if !ks.IsTrustedCertificateEntry(alias) {
				continue
			}
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err != nil {
				return bad(err)
			}
			c, err := x509.ParseCertificate(e.Certificate.Content)
			if err != nil {
				return bad(fmt.Errorf("entry %q: %w", alias, err))
			}
			out = append(out, c)
		}
	case TypePKCS12:
		if out, err = pkcs12.DecodeTrustStore(data, o.TrustStorePassword); err != nil {
			return bad(err)
		}
	case TypePEM:
		for rest := data; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return bad(err)
			}
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return bad(errors.New("no trusted certificate"))
	}
	return out, nil
}

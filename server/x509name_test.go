package server

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/gokeeper/gokeeper/jute"
)

// TestX509SubjectName compares with what Java 17's
// X500Principal.getName() printed for the same DER names: keywords it
// knows (CN, OU, O, L, ST, C, STREET, DC, UID), OIDs with #hex values for
// the rest, escapes, leading and trailing blanks, non-ASCII text.
func TestX509SubjectName(t *testing.T) {
	for _, tc := range []struct {
		name pkix.Name
		java string
	}{
		{pkix.Name{CommonName: "client", OrganizationalUnit: []string{"apps"}, Organization: []string{"gokeeper tests"}},
			"CN=client,OU=apps,O=gokeeper tests"},
		{pkix.Name{CommonName: " lead, +trail ", Country: []string{"US"}, Locality: []string{"a=b#c"}, Province: []string{"St;<>\"\\x"},
			SerialNumber: "1234", PostalCode: []string{"75001"}, StreetAddress: []string{"1 Main St_@*"}},
			`2.5.4.5=#130431323334,CN=\ lead\, \+trail\ ,2.5.4.17=#13053735303031,STREET=1 Main St_@*,L=a\=b\#c,ST=St\;\<\>\"\\x,C=US`},
		{pkix.Name{CommonName: "José Ünïcode", ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, Value: "example"},
			{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, Value: "uid1"},
			{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "a@b.c"},
			{Type: asn1.ObjectIdentifier{2, 5, 4, 12}, Value: "title"},
		}}, "2.5.4.12=#13057469746c65,1.2.840.113549.1.9.1=#0c056140622e63,UID=uid1,DC=example,CN=José Ünïcode"},
	} {
		der, err := asn1.Marshal(tc.name.ToRDNSequence())
		if err != nil {
			t.Fatal(err)
		}
		got, err := X509SubjectName(der)
		if err != nil || got != tc.java {
			t.Errorf("X509SubjectName = %q, %v\nJava prints      %q", got, err, tc.java)
		}
	}
}

func TestX509Provider(t *testing.T) {
	p := X509AuthProvider{SuperUser: "CN=admin"}
	for _, tc := range []struct {
		id    string
		valid bool
	}{
		{"CN=client,OU=apps,O=example", true},
		{"cn=client; o=example", true},
		{"CN=a+UID=b", true},
		{"2.5.4.3=#0c0161", true},
		{"OID.2.5.4.3=x", true},
		{"", true},
		{"client", false},
		{"XX=client", false},
		{"CN=\"unterminated", false},
		{"2.5.4.3=#zz", false},
	} {
		if got := p.IsValid(tc.id); got != tc.valid {
			t.Errorf("IsValid(%q) = %v, want %v", tc.id, got, tc.valid)
		}
	}
	if !p.Matches("CN=client", "CN=client") || p.Matches("CN=client", "CN=other") {
		t.Error("x509 ids must match exactly")
	}
	if !p.Matches("CN=admin", "CN=other") {
		t.Error("the superuser's id matches every x509 ACL")
	}
	if _, code := p.Authenticate(&AuthAttempt{}); code != jute.CodeAuthFailed {
		t.Error("a connection without a certificate authenticated")
	}
}

func TestAuthRegistryFromConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.ClientPort = 2181
	reg, err := AuthRegistryFromConfig(cfg)
	if err != nil || reg.Provider(SchemeX509) != nil || reg.Provider(SchemeDigest) == nil {
		t.Fatalf("default: %v, schemes %v", err, reg.Schemes())
	}
	cfg.SecureClientPort = 2281
	if reg, _ := AuthRegistryFromConfig(cfg); reg.Provider(SchemeX509) == nil {
		t.Error("a secure client port registers x509, as ZooKeeper's configureSSLAuth")
	}
	cfg.SystemProperties = map[string]string{"DigestAuthenticationProvider.enabled": "false"}
	if reg, _ := AuthRegistryFromConfig(cfg); reg.Provider(SchemeDigest) != nil {
		t.Error("DigestAuthenticationProvider.enabled=false kept digest")
	}
	for key, value := range map[string]string{"authProvider.1": "com.example.MyProvider", "ssl.authProvider": "custom"} {
		cfg.SystemProperties = map[string]string{key: value}
		if err := cfg.Validate(); err == nil || !containsKey(err, key) {
			t.Errorf("%s=%s: got %v, want an error naming the key", key, value, err)
		}
	}
}

func containsKey(err error, key string) bool {
	ce, ok := err.(*ConfigError)
	return ok && ce.Key == key
}

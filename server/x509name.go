package server

import (
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"strings"
	"unicode/utf16"
)

// The x509 scheme's ids are certificate subjects as Java prints them,
// X500Principal.getName() (RFC 2253), so that an ACL written for Apache
// ZooKeeper ("x509:CN=client,OU=apps,O=example") matches the same client
// here. Go's pkix.Name.String differs in the details (it knows other
// keywords, loses the string types), so the subject is formatted from its
// DER here, with the rules of the JDK's AVA.toRFC2253String.

// rfc2253Keywords are the attribute types Java names in RFC 2253 output;
// any other is printed as its dotted OID with a #hex value.
var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

// DER string tags Java prints as text (AVA.isDerString, non-canonical).
const (
	tagUTF8String      = 12
	tagPrintableString = 19
	tagT61String       = 20
	tagIA5String       = 22
	tagGeneralString   = 27
	tagBMPString       = 30
)

type x509ATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// x509RDNSET is one relative distinguished name (a SET, by its name).
type x509RDNSET []x509ATV

// X509SubjectName returns the RFC 2253 form Java's
// X500Principal.getName() gives the DER name raw (a certificate's
// RawSubject): RDNs last first, joined by ','; a multi-valued RDN's
// values joined by '+'.
func X509SubjectName(raw []byte) (string, error) {
	var rdns []x509RDNSET
	rest, err := asn1.Unmarshal(raw, &rdns)
	if err != nil {
		return "", err
	}
	if len(rest) > 0 {
		return "", errors.New("server: trailing bytes after an X.500 name")
	}
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i != len(rdns)-1 {
			b.WriteByte(',')
		}
		for j, atv := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			writeRFC2253ATV(&b, atv)
		}
	}
	return b.String(), nil
}

func writeRFC2253ATV(b *strings.Builder, atv x509ATV) {
	oid := atv.Type.String()
	kw, named := rfc2253Keywords[oid]
	v := atv.Value
	text, isString := derText(v)
	if !named || !isString {
		if !named {
			kw = oid
		}
		b.WriteString(kw)
		b.WriteString("=#")
		b.WriteString(hex.EncodeToString(v.FullBytes))
		return
	}
	b.WriteString(kw)
	b.WriteByte('=')
	const escapees = ",=+<>#;\"\\"
	var sb []rune
	for _, c := range text {
		switch {
		case strings.ContainsRune(escapees, c):
			sb = append(sb, '\\', c)
		case c == 0:
			sb = append(sb, '\\', '0', '0')
		default:
			sb = append(sb, c)
		}
	}
	// NB: leading and trailing blanks (and CRs) are escaped, each.
	lead := 0
	for lead < len(sb) && (sb[lead] == ' ' || sb[lead] == '\r') {
		lead++
	}
	trail := len(sb) - 1
	for trail >= 0 && (sb[trail] == ' ' || sb[trail] == '\r') {
		trail--
	}
	for i, c := range sb {
		if i < lead || i > trail {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
}

// derText decodes a DER string value as Java does for display, and
// reports whether the value is of a string type Java prints as text.
func derText(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	switch v.Tag {
	case tagUTF8String:
		return strings.ToValidUTF8(string(v.Bytes), "\uFFFD"), true
	case tagPrintableString, tagT61String, tagIA5String, tagGeneralString:
		// NB: ISO-8859-1, byte for rune
		r := make([]rune, len(v.Bytes))
		for i, c := range v.Bytes {
			r[i] = rune(c)
		}
		return string(r), true
	case tagBMPString:
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return string(utf16.Decode(u)), true
	}
	return "", false
}

// x500Keywords are the attribute keywords Java's X500Principal accepts in
// a name string (RFC 1779, RFC 2253 and its own), upper case.
var x500Keywords = map[string]bool{
	"CN": true, "C": true, "L": true, "S": true, "ST": true, "O": true, "OU": true, "T": true,
	"IP": true, "STREET": true, "DC": true, "DNQUALIFIER": true, "DNQ": true, "SURNAME": true,
	"GIVENNAME": true, "INITIALS": true, "GENERATION": true, "EMAIL": true, "EMAILADDRESS": true,
	"UID": true, "SERIALNUMBER": true,
}

// validX500Name reports whether s parses as a distinguished name the way
// new X500Principal(s) would accept it: RDNs separated by ',' or ';',
// values of one RDN by '+', each keyword=value with a known keyword or a
// dotted OID (optionally "OID."), a value quoted, #hex, or with its
// special characters escaped. The empty name is valid.
func validX500Name(s string) bool {
	if strings.TrimSpace(s) == "" {
		return true
	}
	var parts []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && !quoted:
			i++
			if i >= len(s) {
				return false
			}
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == ';' || c == '+'):
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	if quoted {
		return false
	}
	parts = append(parts, s[start:])
	for _, p := range parts {
		kw, val, ok := strings.Cut(p, "=")
		if !ok {
			return false
		}
		kw = strings.TrimSpace(kw)
		if o, isOID := strings.CutPrefix(strings.ToUpper(kw), "OID."); isOID {
			kw = o
		}
		if !x500Keywords[strings.ToUpper(kw)] && !validDottedOID(kw) {
			return false
		}
		val = strings.TrimSpace(val)
		if h, isHex := strings.CutPrefix(val, "#"); isHex {
			if _, err := hex.DecodeString(h); err != nil || h == "" {
				return false
			}
		}
	}
	return true
}

func validDottedOID(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

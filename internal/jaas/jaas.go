// Package jaas reads Java's JAAS login configuration files, the format of
// the file that java.security.auth.login.config names: sections of login
// module entries with their options.
//
//	Server {
//	    org.apache.zookeeper.server.auth.DigestLoginModule required
//	    user_super="super_secret"
//	    user_jaasuser="jaas_password";
//	};
//
// Comments are // to the end of the line and /* ... */, as Java's
// ConfigFile reads them; values are quoted strings (with \ escapes) or
// bare words.
package jaas

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("jaas: syntax error")

// Entry is one login module of a section.
type Entry struct {
	// Module is the login module's class name.
	Module string
	// Flag is required, requisite, sufficient or optional.
	Flag string
	// Options are the module's key=value options.
	Options map[string]string
}

// Config is a parsed file: its sections by name.
type Config map[string][]Entry

// Parse reads a JAAS configuration.
func Parse(text string) (Config, error) {
	toks, err := tokenize(text)
	if err != nil {
		return nil, err
	}
	cfg := Config{}
	i := 0
	next := func() (token, bool) {
		if i >= len(toks) {
			return token{}, false
		}
		i++
		return toks[i-1], true
	}
	expect := func(want string) error {
		t, ok := next()
		if !ok || t.quoted || t.s != want {
			return fmt.Errorf("%w: line %d: expected %q", ErrSyntax, t.line, want)
		}
		return nil
	}
	for i < len(toks) {
		name, _ := next()
		if name.quoted || isPunct(name.s) {
			return nil, fmt.Errorf("%w: line %d: expected a section name, got %q", ErrSyntax, name.line, name.s)
		}
		if err := expect("{"); err != nil {
			return nil, err
		}
		var entries []Entry
		for {
			t, ok := next()
			if !ok {
				return nil, fmt.Errorf("%w: section %s is not closed", ErrSyntax, name.s)
			}
			if t.s == "}" && !t.quoted {
				break
			}
			flag, ok := next()
			if !ok || flag.quoted {
				return nil, fmt.Errorf("%w: line %d: login module %s has no control flag", ErrSyntax, t.line, t.s)
			}
			switch strings.ToLower(flag.s) {
			case "required", "requisite", "sufficient", "optional":
			default:
				return nil, fmt.Errorf("%w: line %d: invalid control flag %q", ErrSyntax, flag.line, flag.s)
			}
			e := Entry{Module: t.s, Flag: strings.ToLower(flag.s), Options: map[string]string{}}
			for {
				k, ok := next()
				if !ok {
					return nil, fmt.Errorf("%w: entry %s is not ended by ';'", ErrSyntax, e.Module)
				}
				if k.s == ";" && !k.quoted {
					break
				}
				if err := expect("="); err != nil {
					return nil, err
				}
				v, ok := next()
				if !ok || (!v.quoted && isPunct(v.s)) {
					return nil, fmt.Errorf("%w: line %d: option %s has no value", ErrSyntax, k.line, k.s)
				}
				e.Options[k.s] = v.s
			}
			entries = append(entries, e)
		}
		if err := expect(";"); err != nil {
			return nil, err
		}
		cfg[name.s] = append(cfg[name.s], entries...)
	}
	return cfg, nil
}

type token struct {
	s      string
	quoted bool
	line   int
}

func isPunct(s string) bool { return s == "{" || s == "}" || s == ";" || s == "=" }

func tokenize(text string) ([]token, error) {
	var out []token
	line := 1
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			i++
		case strings.HasPrefix(text[i:], "//"):
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case strings.HasPrefix(text[i:], "/*"):
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("%w: line %d: unclosed comment", ErrSyntax, line)
			}
			line += strings.Count(text[i:i+2+end], "\n")
			i += end + 4
		case c == '{' || c == '}' || c == ';' || c == '=':
			out = append(out, token{s: string(c), line: line})
			i++
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(text) && text[j] != c; j++ {
				if text[j] == '\\' && j+1 < len(text) {
					j++
				}
				if text[j] == '\n' {
					line++
				}
				b.WriteByte(text[j])
			}
			if j >= len(text) {
				return nil, fmt.Errorf("%w: line %d: unclosed quote", ErrSyntax, line)
			}
			out = append(out, token{s: b.String(), quoted: true, line: line})
			i = j + 1
		default:
			j := i
			for j < len(text) && !strings.ContainsRune(" \t\r\n\f{};=\"'", rune(text[j])) && !strings.HasPrefix(text[j:], "//") && !strings.HasPrefix(text[j:], "/*") {
				j++
			}
			out = append(out, token{s: text[i:j], line: line})
			i = j
		}
	}
	return out, nil
}

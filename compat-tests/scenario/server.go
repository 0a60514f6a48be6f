package scenario

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
)

// FourLetter sends a four-letter word on a fresh connection and records
// the structure of the answer (see FourLetterShape).
func (r *Run) FourLetter(word string) {
	r.step++
	out, err := fourLetter(r.Target.Addr, word, r.Target.IOTimeout)
	if err != nil {
		r.add(fmt.Sprintf("4lw %s -> ! %s", word, errClass(err)))
		return
	}
	r.add(fmt.Sprintf("4lw %s -> %s", word, FourLetterShape(word, out)))
}

func fourLetter(addr, word string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte(word)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	if err != nil && len(b) == 0 {
		return "", err
	}
	return string(b), nil
}

var (
	digits  = regexp.MustCompile(`[0-9]+`)
	version = regexp.MustCompile(`(?i)^\s*(zookeeper version|zk_version|version)\b`)
)

// perNamespace reports whether a metric name is one of ZooKeeper's
// per-top-level-znode metrics, whose set depends on which scenarios ran
// before.
func perNamespace(key string) bool { return strings.Contains(key, "_per_namespace") }

// FourLetterShape reduces a four-letter word answer to its structure: the
// key of every line (the text before '=', ':' or a tab) in order, with
// numbers masked, duplicates and per-namespace metrics dropped and client
// connection lines collapsed. Answers without
// keys (ruok, isro) are kept verbatim. Server version lines are dropped.
func FourLetterShape(word, out string) string {
	switch word {
	case "ruok", "isro":
		return fmt.Sprintf("%q", out)
	}
	var keys []string
	seen := map[string]bool{}
	prev := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" || version.MatchString(line) {
			continue
		}
		key := line
		switch {
		case strings.HasPrefix(strings.TrimSpace(line), "/"):
			key = "<client>"
		case strings.HasPrefix(line, "\t"), strings.HasPrefix(line, " "):
			key = "<indented>"
		case strings.Contains(line, "\t"):
			key = line[:strings.Index(line, "\t")]
		case strings.Contains(line, "="):
			key = line[:strings.Index(line, "=")]
		case strings.Contains(line, ":"):
			key = line[:strings.Index(line, ":")]
		}
		key = digits.ReplaceAllString(key, "#")
		if key == prev && strings.HasPrefix(key, "<") {
			continue
		}
		prev = key
		if perNamespace(key) || seen[key] {
			continue
		}
		seen[key] = true
		keys = append(keys, key)
	}
	return "[" + strings.Join(keys, "|") + "]"
}

// Admin fetches /commands/<cmd> from the AdminServer and records the HTTP
// status and the JSON structure (see JSONShape).
func (r *Run) Admin(cmd string) {
	r.step++
	if r.Target.AdminAddr == "" {
		r.add("admin " + cmd + " -> ! no admin server")
		return
	}
	client := &http.Client{Timeout: r.Target.IOTimeout}
	resp, err := client.Get("http://" + r.Target.AdminAddr + "/commands/" + cmd)
	if err != nil {
		r.add("admin " + cmd + " -> ! " + errClass(err))
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		r.add(fmt.Sprintf("admin %s -> %d non-json", cmd, resp.StatusCode))
		return
	}
	r.add(fmt.Sprintf("admin %s -> %d %s", cmd, resp.StatusCode, JSONShape(v)))
}

// JSONShape renders the structure of a decoded JSON value: object keys
// (sorted) with the shapes of their values, arrays as "list", scalars by
// type. The version field and per-namespace
// metrics are left out.
func JSONShape(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			if k == "version" || perNamespace(k) {
				continue
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + JSONShape(x[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		// NB: only "list": element shapes would depend on how many
		// connections or watches happen to exist.
		return "list"
	case string:
		return "str"
	case float64:
		return "num"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

package admin

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// field is one key of a JSON object.
type field struct {
	key string
	val any
}

// object is a JSON object that keeps its keys in insertion order, as the
// LinkedHashMap behind ZooKeeper's CommandResponse does.
type object []field

// put sets key to val, in place when key is already present (as
// LinkedHashMap.put), else at the end.
func (o *object) put(key string, val any) {
	for i := range *o {
		if (*o)[i].key == key {
			(*o)[i].val = val
			return
		}
	}
	*o = append(*o, field{key, val})
}

// get returns key's value and whether it is present.
func (o object) get(key string) (any, bool) {
	for _, f := range o {
		if f.key == key {
			return f.val, true
		}
	}
	return nil, false
}

// marshalJackson renders v the way ZooKeeper's AdminServer does (Jackson's
// DefaultPrettyPrinter): objects one field per line as `"key" : value`
// indented two spaces per level, arrays inline as `[ a, b ]`, empty
// containers as `{ }` and `[ ]`, doubles as Java prints them. Supported
// values: nil, bool, the integer types, float64, string, object, []any,
// []int64 and []string.
func marshalJackson(v any) []byte {
	var b bytes.Buffer
	writeJackson(&b, v, 0)
	return b.Bytes()
}

func writeJackson(b *bytes.Buffer, v any, nesting int) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	case int32:
		b.WriteString(strconv.FormatInt(int64(v), 10))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case uint64:
		b.WriteString(strconv.FormatUint(v, 10))
	case float64:
		b.WriteString(javaDouble(v))
	case string:
		writeJSONString(b, v)
	case object:
		if len(v) == 0 {
			b.WriteString("{ }")
			return
		}
		b.WriteString("{\n")
		for i, f := range v {
			b.WriteString(strings.Repeat("  ", nesting+1))
			writeJSONString(b, f.key)
			b.WriteString(" : ")
			writeJackson(b, f.val, nesting+1)
			if i < len(v)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat("  ", nesting))
		b.WriteByte('}')
	case []any:
		writeArray(b, len(v), func(i int) { writeJackson(b, v[i], nesting) })
	case []int64:
		writeArray(b, len(v), func(i int) { writeJackson(b, v[i], nesting) })
	case []string:
		writeArray(b, len(v), func(i int) { writeJackson(b, v[i], nesting) })
	case []object:
		writeArray(b, len(v), func(i int) { writeJackson(b, v[i], nesting) })
	default:
		panic(fmt.Sprintf("admin: cannot render %T as JSON", v))
	}
}

// writeArray writes an inline array: Jackson's FixedSpaceIndenter does
// not add a nesting level for arrays.
func writeArray(b *bytes.Buffer, n int, elem func(i int)) {
	if n == 0 {
		b.WriteString("[ ]")
		return
	}
	b.WriteString("[ ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		elem(i)
	}
	b.WriteString(" ]")
}

// writeJSONString writes s quoted, escaping what Jackson escapes: the
// quote, the backslash and control characters.
func writeJSONString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			fmt.Fprintf(b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// javaDouble formats a float the way Java's Double.toString does for the
// values ZooKeeper prints: always with a fraction digit, plain notation
// between 1e-3 and 1e7, scientific (1.0E7) outside it.
func javaDouble(v float64) string {
	if v == 0 {
		return "0.0"
	}
	a := v
	if a < 0 {
		a = -a
	}
	if a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(v, 'E', -1, 64) // e.g. 1E+07, 1.5E-04
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

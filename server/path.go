package server

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalidPath is wrapped by every error ValidatePath returns. The wrapping
// error's text is ZooKeeper's PathUtils message ("Path must start with /
// character", "Invalid path string ... caused by ..."). Requests with such a
// path are answered with CodeBadArguments.
var ErrInvalidPath = errors.New("server: invalid path")

// ValidatePath applies ZooKeeper's PathUtils.validatePath rules: the path is
// not empty, starts with '/', does not end with '/' (unless it is the root),
// has no empty node name ("//"), no "." or ".." node name, and no character
// that Java considers invalid in a znode name: U+0000..U+001F,
// U+007F..U+009F, U+D800..U+F8FF, U+FFF0..U+FFFF. ZooKeeper works on UTF-16,
// so characters beyond U+FFFF (surrogate pairs there) are invalid too, as is
// malformed UTF-8 (which Java decodes to U+FFFD).
func ValidatePath(path string) error {
	if len(path) == 0 {
		return fmt.Errorf("%w: Path length must be > 0", ErrInvalidPath)
	}
	if path[0] != '/' {
		return fmt.Errorf("%w: Path must start with / character", ErrInvalidPath)
	}
	if len(path) == 1 {
		return nil
	}
	if path[len(path)-1] == '/' {
		return fmt.Errorf("%w: Path must not end with / character", ErrInvalidPath)
	}
	// Walk the node names between slashes; idx counts UTF-16 units like
	// Java's index in the error message.
	idx := 1
	for i := 1; i < len(path); {
		r, size := utf8.DecodeRuneInString(path[i:])
		reason := ""
		switch {
		case r == 0:
			reason = "null character not allowed"
		case r == '/' && path[i-1] == '/':
			reason = "empty node name specified"
		case r == '.' && path[i-1] == '/' && pathNameIsDots(path[i:]):
			reason = "relative paths not allowed"
		case pathInvalidRune(r):
			reason = "invalid character"
		}
		if reason != "" {
			if r == '.' {
				// Java reports a ".." at its second dot.
				idx += strings.IndexByte(path[i:]+"/", '/') - 1
			}
			return fmt.Errorf("%w: Invalid path string %q caused by %s @%d", ErrInvalidPath, path, reason, idx)
		}
		if r >= 0x10000 {
			idx += 2
		} else {
			idx++
		}
		i += size
	}
	return nil
}

// pathNameIsDots reports whether the node name at the start of s is "." or
// "..".
func pathNameIsDots(s string) bool {
	name := s
	if j := strings.IndexByte(s, '/'); j >= 0 {
		name = s[:j]
	}
	return name == "." || name == ".."
}

// pathInvalidRune reports whether ZooKeeper rejects r in a path.
func pathInvalidRune(r rune) bool {
	switch {
	case r > 0 && r <= 0x1f,
		r >= 0x7f && r <= 0x9f,
		r >= 0xd800 && r <= 0xf8ff,
		r >= 0xfff0: // includes U+FFFD (malformed UTF-8) and every non-BMP rune
		return true
	}
	return false
}

// pathParent returns the parent of path for a create or delete the way
// PrepRequestProcessor computes it (everything before the last '/', the root
// for "/x"), and false when the path has no '/' or holds a NUL byte
// (ZooKeeper's BadArguments).
func pathParent(path string) (string, bool) {
	last := strings.LastIndexByte(path, '/')
	if last < 0 || strings.IndexByte(path, 0) >= 0 {
		return "", false
	}
	if last == 0 {
		return "/", true
	}
	return path[:last], true
}

// Paths of ZooKeeper's system nodes (ZooDefs and Quotas).
const (
	pathZookeeper = "/zookeeper"
	pathQuota     = "/zookeeper/quota"
	pathConfig    = "/zookeeper/config"
)

// pathIsSpecial reports whether path is one of the nodes DataTree.isSpecialPath
// protects from deletion: the root, /zookeeper, /zookeeper/quota and
// /zookeeper/config.
func pathIsSpecial(path string) bool {
	switch path {
	case "/", pathZookeeper, pathQuota, pathConfig:
		return true
	}
	return false
}

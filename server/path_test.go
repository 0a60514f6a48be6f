package server

import (
	"errors"
	"strings"
	"testing"
)

// TestValidatePath follows PathUtilsTest and PathUtils.validatePath.
func TestValidatePath(t *testing.T) {
	tests := []struct {
		path   string
		reason string // "" = valid; else a substring of the error
	}{
		{"/", ""},
		{"/this is / a valid/path", ""},
		{"/name/with.period.", ""},
		{"/.a", ""},
		{"/a.", ""},
		{"/..a", ""},
		{"/...", ""},
		{"/a/.../b", ""},
		{"/test\u0020", ""},
		{"/test\u007e", ""},
		{"/test\uffef", ""},
		{"/test\u00a0", ""},
		{"/日本語", ""},
		{"", "Path length must be > 0"},
		{"not/valid", "Path must start with / character"},
		{"/ends/with/slash/", "Path must not end with / character"},
		{"//", "Path must not end with / character"},
		{"/test\u0000", "null character not allowed @5"},
		{"/double//slash", "empty node name specified @8"},
		{"/single/./period", "relative paths not allowed @8"},
		{"/double/../period", "relative paths not allowed @9"},
		{"/.", "relative paths not allowed @1"},
		{"/..", "relative paths not allowed @2"},
		{"/a/..", "relative paths not allowed @4"},
		{"/test\u0001", "invalid character @5"},
		{"/test\u001f", "invalid character @5"},
		{"/test\u007f", "invalid character @5"},
		{"/test\u009f", "invalid character @5"},
		{"/test\ud7ff", ""},
		{"/test\ue000", "invalid character"},
		{"/test\uf8ff", "invalid character"},
		{"/test\ufff0", "invalid character"},
		{"/test\ufffd", "invalid character"},
		{"/test\U0001F600", "invalid character"}, // a surrogate pair in Java
		{"/test\xff", "invalid character"},       // malformed UTF-8: U+FFFD in Java
		{"/日本/\x01", "invalid character @4"},
	}
	for _, tc := range tests {
		err := ValidatePath(tc.path)
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("ValidatePath(%q) = %v, want valid", tc.path, err)
		case tc.reason != "" && err == nil:
			t.Errorf("ValidatePath(%q) valid, want %q", tc.path, tc.reason)
		case tc.reason != "" && (!strings.Contains(err.Error(), tc.reason) || !errors.Is(err, ErrInvalidPath)):
			t.Errorf("ValidatePath(%q) = %v, want %q wrapping ErrInvalidPath", tc.path, err, tc.reason)
		}
	}
}

func TestPathParent(t *testing.T) {
	for _, tc := range []struct {
		path, parent string
		ok           bool
	}{
		{"/a", "/", true}, {"/a/b", "/a", true}, {"/", "/", true}, {"/a/", "/a", true},
		{"a/b", "a", true}, {"abc", "", false}, {"/a\x00", "", false}, {"", "", false},
	} {
		p, ok := pathParent(tc.path)
		if p != tc.parent || ok != tc.ok {
			t.Errorf("pathParent(%q) = %q, %v; want %q, %v", tc.path, p, ok, tc.parent, tc.ok)
		}
	}
}

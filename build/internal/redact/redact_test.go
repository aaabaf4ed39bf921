package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://pypi.org/simple/":                      "https://pypi.org/simple/",
		"https://ci:s3cret@pypi.example/simple/":        "https://pypi.example/simple/",
		"https://ci:${TOKEN}@pypi.example/simple/":      "https://xxxxx@pypi.example/simple/",
		"ci:s3cret@pypi.example/simple":                 "xxxxx@pypi.example/simple",
		"https://ci:pa/ss@host/simple?x=1":              "https://xxxxx@host/simple?x=1",
		"file:///wheels/dir":                            "file:///wheels/dir",
		"http://token@127.0.0.1:8080/simple/?q=a@b.com": "http://127.0.0.1:8080/simple/?q=a@b.com",
	} {
		got := URL(in)
		if got != want || strings.Contains(got, "s3cret") {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

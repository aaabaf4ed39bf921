package testenv

import (
	"strings"
	"testing"
)

func TestLocatePythonErrors(t *testing.T) {
	for _, minor := range []string{"3", "python3.12", "3.12.1", ""} {
		if _, err := LocatePython(minor); err == nil {
			t.Errorf("LocatePython(%q) succeeded, want a format error", minor)
		}
	}
	if _, err := LocatePython("3.99"); err == nil || !strings.Contains(err.Error(), "3.99") {
		t.Errorf("LocatePython(3.99) = %v, want an error naming the version", err)
	}
}

func TestFindPythonIsTheRealInterpreter(t *testing.T) {
	for _, minor := range []string{"3.11", "3.12", "3.13"} {
		p := FindPython(t, minor)
		if strings.Contains(p, "/shims/") {
			t.Errorf("FindPython(%s) = %s, a pyenv shim", minor, p)
		}
		if err := checkPython(p, minor); err != nil {
			t.Error(err)
		}
	}
}

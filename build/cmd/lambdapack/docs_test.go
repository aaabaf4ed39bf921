package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// helpFlag matches a flag line of a command's -h output: "  -name TYPE".
var helpFlag = regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`)

// docs/lambdapack.md is the CLI's reference: every command has a section
// or a row there, and every flag a command takes (as its -h lists them) is
// written out as --flag, so a flag added to the code and not to the docs
// fails here.
func TestDocsNameEveryCommandAndFlag(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/lambdapack.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	for _, c := range commands() {
		if !strings.Contains(text, "`"+c.name+" ") && !strings.Contains(text, "lambdapack "+c.name) {
			t.Errorf("docs/lambdapack.md does not describe the %s command", c.name)
		}
		var stderr bytes.Buffer
		if code := run(context.Background(), []string{c.name, "-h"}, &env{stdout: &bytes.Buffer{}, stderr: &stderr}); code != exitOK {
			t.Fatalf("lambdapack %s -h exited %d: %s", c.name, code, stderr.String())
		}
		flags := helpFlag.FindAllStringSubmatch(stderr.String(), -1)
		if len(flags) == 0 {
			t.Errorf("lambdapack %s -h lists no flags: has its usage format changed?\n%s", c.name, stderr.String())
		}
		for _, f := range flags {
			if !strings.Contains(text, "--"+f[1]) {
				t.Errorf("docs/lambdapack.md does not mention %s's flag --%s", c.name, f[1])
			}
		}
	}
}

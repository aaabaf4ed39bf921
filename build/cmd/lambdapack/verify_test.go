package main

import (
	"strings"
	"testing"
)

// Bad usage exits 2 before any AWS call, naming what is wrong.
func TestVerifyUsage(t *testing.T) {
	const arn = "arn:aws:lambda:us-east-1:123456789012:layer:galerly-image-processing:4"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no function", []string{"--expect-layer", arn}, "--function is required"},
		{"no layer", []string{"--function", "galerly-api-prod"}, "--expect-layer is required"},
		{"unversioned layer ARN", []string{"--function", "f", "--expect-layer", "arn:aws:lambda:us-east-1:123456789012:layer:galerly-image-processing"}, "has no version"},
		{"layer name only", []string{"--function", "f", "--expect-layer", "galerly-image-processing:4"}, "want arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION"},
		{"function ARN as layer", []string{"--function", "f", "--expect-layer", "arn:aws:lambda:us-east-1:123456789012:function:f"}, "want arn:aws:lambda"},
		{"bad version", []string{"--function", "f", "--expect-layer", strings.TrimSuffix(arn, "4") + "x"}, "is not a positive number"},
		{"stray argument", []string{"--function", "f", "--expect-layer", arn, "extra"}, `unexpected argument "extra"`},
		{"unknown flag", []string{"--function", "f", "--expect-layer", arn, "--layer", "x"}, "flag provided but not defined: -layer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := lambdapack(append([]string{"verify"}, c.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and stderr containing %q", r.code, r.stdout, r.stderr, c.want)
			}
		})
	}
	r := lambdapack("verify", "-h")
	if r.code != 0 || !strings.Contains(r.stderr, "usage: lambdapack verify --function NAME [--qualifier live] --expect-layer ARN [--invoke]") {
		t.Errorf("-h: exit %d, stderr %q", r.code, r.stderr)
	}
}

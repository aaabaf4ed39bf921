package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/galerly/galerly-lambda/build/verify"
)

// maxDetail bounds each error message quoted from the self-test's answer,
// so one long traceback does not bury the others.
const maxDetail = 300

// checkedVersion is the version inv invoked, resolved only once its answer
// passed checkSelfTest. The live alias takes it, so a version whose self-test
// failed fails the update before the alias moves, and the alias keeps
// pointing at the last good version.
//
// The provider fails the invocation itself when the function raised (a
// FunctionError); this catches the answers of a function that ran but
// reports a broken layer.
func checkedVersion(name string, inv *lambda.Invocation) pulumi.StringOutput {
	return pulumi.All(inv.Qualifier, inv.Result).ApplyT(func(v []any) (string, error) {
		version := ""
		if q, ok := v[0].(*string); ok && q != nil {
			version = *q
		}
		result, _ := v[1].(string)
		if err := checkSelfTest(result); err != nil {
			return "", fmt.Errorf("smoke test of %s version %s failed, so the %s alias stays where it was: %w", name, version, liveAlias, err)
		}
		return version, nil
	}).(pulumi.StringOutput)
}

// checkSelfTest reads the self-test's answer: nil when it says ok, else an
// error naming each package that failed and why.
func checkSelfTest(result string) error {
	st, err := verify.ParseSelfTest([]byte(result))
	if err != nil {
		// The app answers a request it does not understand with
		// {"error": ...}: say so rather than "not a report".
		var other struct {
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(result), &other) == nil && other.Error != "" {
			return fmt.Errorf("the handler does not run the self-test: %s", clip(other.Error))
		}
		return fmt.Errorf("the answer to %s is not the self-test's report (%v): %s", verify.SelfTestRequest, err, clip(result))
	}
	if st.Passed() {
		return nil
	}
	a := st
	if len(a.Errors) == 0 {
		// Also when not ok: a sample that would not decode turns ok and
		// its codec off together, and the codec is what to name.
		if off := st.CodecsOff(); len(off) > 0 {
			return fmt.Errorf("the layer's packages import but %s is unavailable: %s", strings.Join(off, " and "), clip(result))
		}
		return fmt.Errorf("the self-test says not ok without naming a package: %s", clip(result))
	}
	var failed []string
	for _, pkg := range slices.Sorted(maps.Keys(a.Errors)) {
		failed = append(failed, fmt.Sprintf("%s (%s)", pkg, clip(a.Errors[pkg])))
	}
	python := ""
	if a.Python != "" {
		python = " on Python " + a.Python
	}
	return fmt.Errorf("%d package(s) failed%s: %s", len(failed), python, strings.Join(failed, "; "))
}

// clip shortens s to maxDetail bytes, on a UTF-8 boundary, marking the cut.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxDetail {
		return s
	}
	return truncate(s, maxDetail) + "..."
}

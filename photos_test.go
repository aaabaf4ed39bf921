package main

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

const (
	photosBucketKey = project + ":photosBucket"
	photosBucket    = "galerly-photos-prod"
	thumbsFunction  = "galerly-thumbs-prod"
	healthFunction  = "galerly-health-prod"
)

// withExtraFunctions adds two extra functions to cfg, as the tests of
// settings every function shares use.
func withExtraFunctions(cfg map[string]string) map[string]string {
	cfg[project+":extraFunctions"] = `[{"name":"` + thumbsFunction + `","handler":"api.handler"},{"name":"` + healthFunction + `","handler":"api.handler"}]`
	return cfg
}

// With photosBucket set, every function (extra ones too) gets
// PHOTOS_BUCKET and a role policy allowing s3:GetObject on the bucket's
// objects, in the stack's partition, and nothing more; without it,
// neither.
func TestPhotosBucket(t *testing.T) {
	for _, tc := range []struct {
		name, region, bucket string
		wantPolicy           string // "" for none
	}{
		{"unset", "us-east-1", "", ""},
		{"aws partition", "us-east-1", photosBucket,
			`{"Version":"2012-10-17","Statement":[{"Sid":"ReadPhotos","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::galerly-photos-prod/*"}]}`},
		{"China partition", "cn-north-1", "galerly.photos.cn",
			`{"Version":"2012-10-17","Statement":[{"Sid":"ReadPhotos","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws-cn:s3:::galerly.photos.cn/*"}]}`},
		{"GovCloud partition", "us-gov-west-1", "galerly-photos-gov",
			`{"Version":"2012-10-17","Statement":[{"Sid":"ReadPhotos","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws-us-gov:s3:::galerly-photos-gov/*"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := withExtraFunctions(stackConfig(t, "prod"))
			cfg["aws:region"] = tc.region
			if tc.bucket != "" {
				cfg[photosBucketKey] = tc.bucket
			}
			m := mustRun(t, run{config: cfg})

			if n := len(m.ofType(typeRolePol)); tc.wantPolicy == "" && n != 0 {
				t.Errorf("%d role policies without photosBucket, want none", n)
			} else if tc.wantPolicy != "" && n != 3 {
				t.Errorf("%d role policies, want one per function (3)", n)
			}
			for _, name := range []string{apiName, thumbsFunction, healthFunction} {
				fn := m.find(t, typeFunction, name)
				env, hasEnv := fn.Inputs["environment"]
				if tc.bucket == "" {
					if hasEnv {
						t.Errorf("%s: environment = %v, want none without photosBucket", name, env)
					}
					continue
				}
				vars := map[string]string{}
				if hasEnv && env.IsObject() {
					for k, v := range env.ObjectValue()["variables"].ObjectValue() {
						vars[string(k)] = v.StringValue()
					}
				}
				if len(vars) != 1 || vars[photosBucketVar] != tc.bucket {
					t.Errorf("%s: environment variables %v, want exactly %s=%s", name, vars, photosBucketVar, tc.bucket)
				}

				pol := m.find(t, typeRolePol, name+"-photos-read")
				got := strValue(t, pol, "policy")
				if got != tc.wantPolicy {
					t.Errorf("%s: policy\n got %s\nwant %s", name, got, tc.wantPolicy)
				}
				checkReadOnlyPolicy(t, name, got)
				if !pol.inputFrom("role", typeRole, name) {
					t.Errorf("%s: the photos policy is not on the function's own role", name)
				}
				if !isURN(pol.Parent, typeFuncComp, name) {
					t.Errorf("%s: the photos policy's parent is %s, want the function component", name, pol.Parent)
				}
				// The smoke test is the function's first invocation: the
				// function waits for the permission it may need.
				if !fn.dependsOn(typeRolePol, name+"-photos-read") {
					t.Errorf("%s does not wait for its photos policy: %v", name, fn.Deps)
				}
			}
			// Nothing beyond the read is granted: the roles keep only the
			// basic execution policy.
			for _, r := range m.ofType(typeAttach) {
				if arn := strValue(t, r, "policyArn"); !strings.HasSuffix(arn, ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole") {
					t.Errorf("%s attaches %s, want only basic execution", r.Name, arn)
				}
			}
		})
	}
}

// checkReadOnlyPolicy parses the policy document and fails t unless it
// allows exactly one action, s3:GetObject, on object ARNs, with no
// condition, principal or wildcard action: nothing more than reading.
func checkReadOnlyPolicy(t *testing.T, name, doc string) {
	t.Helper()
	var p struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("%s: policy is not JSON: %v", name, err)
	}
	if p.Version != "2012-10-17" || len(p.Statement) != 1 {
		t.Fatalf("%s: policy %s, want version 2012-10-17 and one statement", name, doc)
	}
	st := p.Statement[0]
	if keys := slices.Sorted(maps.Keys(st)); !slices.Equal(keys, []string{"Action", "Effect", "Resource", "Sid"}) {
		t.Errorf("%s: statement fields %v, want only Sid, Effect, Action, Resource", name, keys)
	}
	if st["Effect"] != "Allow" || st["Action"] != "s3:GetObject" {
		t.Errorf("%s: statement %v, want Allow s3:GetObject only", name, st)
	}
	if res, _ := st["Resource"].(string); !strings.HasSuffix(res, "/*") || strings.Count(res, "*") != 1 {
		t.Errorf("%s: resource %v, want one bucket's objects (BUCKET/*)", name, st["Resource"])
	}
}

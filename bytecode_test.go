package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/source"
	"github.com/galerly/galerly-lambda/build/target"
)

// The bytecode setting reaches both build steps and both keys: turning it
// off is a new layer key and a new code key, so the preview shows both
// rebuilt, and each build command says --no-bytecode so the builder
// builds (and reports) the key the program computed.
func TestBytecodeSetting(t *testing.T) {
	on := stackConfig(t, "prod")
	off := stackConfig(t, "prod")
	// As `pulumi stack init` writes a boolean: a quoted string.
	off[project+":bytecode"] = "false"
	mOn := mustRun(t, run{config: on})
	mOff := mustRun(t, run{config: off})

	tg, err := target.New([]string{"python3.11"}, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		m       *mocks
		options lock.Options
	}{
		{"on (the default)", mOn, lock.Options{}},
		{"off", mOff, lock.Options{NoBytecode: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layerKey, err := build.LayerKey("locks/image-processing.txt", prodTarget(t), tc.options)
			if err != nil {
				t.Fatal(err)
			}
			codeKey, err := build.CodeKey("app", "locks/function.txt", tg, source.Filter{}, tc.options)
			if err != nil {
				t.Fatal(err)
			}
			lb := tc.m.find(t, typeCommand, layerName+"-build")
			if got := strList(t, lb, "triggers")[0]; got != layerKey {
				t.Errorf("layer trigger %s, want build.LayerKey with %+v: %s", got, tc.options, layerKey)
			}
			fb := tc.m.find(t, typeCommand, apiName+"-build")
			if got := strList(t, fb, "triggers"); !slices.Equal(got, []string{codeKey}) {
				t.Errorf("function triggers %v, want build.CodeKey with %+v: %s", got, tc.options, codeKey)
			}
			for _, c := range []struct {
				step registered
				want string
			}{
				{lb, " --arch x86_64 --no-bytecode --name " + layerName + " --out .lambdapack/layer-" + layerKey + ".zip "},
				{fb, " --arch x86_64 --no-bytecode --with-layer-unzipped "},
			} {
				create := strValue(t, c.step, "create")
				if has := strings.Contains(create, c.want); has != tc.options.NoBytecode {
					t.Errorf("%s: create %q: --no-bytecode there is %v, want %v", c.step.Name, create, has, tc.options.NoBytecode)
				}
				if !tc.options.NoBytecode && strings.Contains(create, "bytecode") {
					t.Errorf("%s: create %q mentions bytecode with the default setting", c.step.Name, create)
				}
			}
		})
	}

	// What a pull request turning it off shows: both build steps and
	// everything named by their keys, nothing else.
	want := []string{
		typeCommand + "::" + layerName + "-build create",
		typeCommand + "::" + layerName + "-build triggers",
		typeLayerVer + "::" + layerName + " description",
		typeLayerVer + "::" + layerName + " s3Key",
		typeCommand + "::" + apiName + "-build create",
		typeCommand + "::" + apiName + "-build triggers",
		typeFunction + "::" + apiName + " s3Key",
		typeInvoke + "::" + apiName + "-smoke-test triggers",
	}
	slices.Sort(want)
	if got := changedInputs(inputsByResource(mOn), inputsByResource(mOff)); !slices.Equal(got, want) {
		t.Errorf("bytecode on -> off changed:\n got %v\nwant %v", got, want)
	}
}

// This checkout's lambdapack computes the layer key the program does, for
// either setting, from the same flags the build step passes.
func TestLayerKeyAgreesWithLambdapack(t *testing.T) {
	bin := buildLambdapack(t)
	for _, noBytecode := range []bool{false, true} {
		cfg := stackConfig(t, "prod")
		if noBytecode {
			cfg[project+":bytecode"] = "false"
		}
		m := mustRun(t, run{config: cfg})
		step := m.find(t, typeCommand, layerName+"-build")
		want := strList(t, step, "triggers")[0]
		// The build step's own flags, as far as the key goes.
		args := []string{"key"}
		words := strings.Fields(strValue(t, step, "create"))
		for i, w := range words {
			switch w {
			case "--lock", "--runtime", "--arch":
				args = append(args, w, words[i+1])
			case "--no-bytecode":
				args = append(args, w)
			}
		}
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("lambdapack %s: %v", strings.Join(args, " "), err)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("lambdapack %s = %s, the program's key %s", strings.Join(args, " "), got, want)
		}
	}
}

// Package cdxschema validates CycloneDX JSON documents in tests against
// the JSON schemas that ship in cyclonedx-go's module, read from the
// module cache where `go list -m` finds it: the schemas are not copied
// into this repository.
package cdxschema

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// module is the module whose schema/ folder holds the schemas.
const module = "github.com/CycloneDX/cyclonedx-go"

// schemaBase is the folder URL the schemas' $id and relative $refs
// resolve against.
const schemaBase = "http://cyclonedx.org/schema/"

// files maps the URLs the bom schemas use to the module's file names:
// the JSF schema is stored as jsf-0.82.schemax.json but referred to as
// jsf-0.82.schema.json.
var files = map[string]string{
	"spdx.schema.json":     "spdx.schema.json",
	"jsf-0.82.schema.json": "jsf-0.82.schemax.json",
}

var (
	once     sync.Once
	dir      string
	dirErr   error
	compiled sync.Map // spec version -> *jsonschema.Schema
)

// schemaDir is the module's schema folder in the module cache.
func schemaDir() (string, error) {
	once.Do(func() {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			dirErr = fmt.Errorf("go list -m %s: %v: %s", module, err, errb.String())
			return
		}
		dir = filepath.Join(strings.TrimSpace(out.String()), "schema")
	})
	return dir, dirErr
}

// Validate fails t unless doc is valid CycloneDX JSON of spec ("1.5",
// "1.6") by the schema in cyclonedx-go's module. It skips (fails under
// CI=true) when the go command or the module's source is not there.
func Validate(t testing.TB, doc []byte, spec string) {
	t.Helper()
	sch, err := schema(spec)
	if err != nil {
		if os.IsNotExist(err) || strings.Contains(err.Error(), "go list") {
			testenv.SkipOrFail(t, "the CycloneDX %s schema: %v", spec, err)
		}
		t.Fatalf("the CycloneDX %s schema: %v", spec, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("not valid CycloneDX %s: %v", spec, err)
	}
}

// schema compiles bom-SPEC.schema.json with its references, once.
func schema(spec string) (*jsonschema.Schema, error) {
	if s, ok := compiled.Load(spec); ok {
		return s.(*jsonschema.Schema), nil
	}
	d, err := schemaDir()
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	bom := "bom-" + spec + ".schema.json"
	for url, name := range map[string]string{bom: bom, "spdx.schema.json": files["spdx.schema.json"], "jsf-0.82.schema.json": files["jsf-0.82.schema.json"]} {
		f, err := os.Open(filepath.Join(d, name))
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := c.AddResource(schemaBase+url, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	s, err := c.Compile(schemaBase + bom)
	if err != nil {
		return nil, err
	}
	compiled.Store(spec, s)
	return s, nil
}

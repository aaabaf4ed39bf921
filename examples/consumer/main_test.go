package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The example runs here as the Pulumi CLI would run it, against mocks: the
// StackReference answers with what a deployed galerly-lambda stack
// exports, so the test sees the graph a consumer gets.

const (
	project     = "galerly-layer-consumer"
	layerStack  = "organization/galerly-lambda/prod"
	producerArn = "arn:aws:lambda:us-east-1:123456789012:layer:galerly-image-processing:7"
	typeStack   = "pulumi:pulumi:Stack"
	typeRef     = "pulumi:pulumi:StackReference"
	typeRole    = "aws:iam/role:Role"
	typeAttach  = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
	typeFunc    = "aws:lambda/function:Function"
)

// producerPackages is the layerPackages output of the referenced stack.
var producerPackages = []any{"numpy==2.1.3", "pillow==11.0.0", "pillow-heif==0.20.0", "rawpy==0.24.0"}

// registered is one resource the program registered or read.
type registered struct {
	Type, Name, ID string
	Inputs         resource.PropertyMap
	PropDep        map[string][]string
}

type mocks struct {
	// outputs are the referenced stack's outputs.
	outputs map[string]any

	mu        sync.Mutex
	resources []registered
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := registered{Type: args.TypeToken, Name: args.Name, ID: args.ID, Inputs: args.Inputs, PropDep: map[string][]string{}}
	if rpc := args.RegisterRPC; rpc != nil {
		for k, v := range rpc.GetPropertyDependencies() {
			r.PropDep[k] = v.GetUrns()
		}
	}
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()

	state := args.Inputs.Copy()
	switch args.TypeToken {
	case typeRef:
		// What the engine answers for a StackReference: the stack's name
		// and its outputs.
		state = resource.NewPropertyMapFromMap(map[string]any{"name": args.ID, "outputs": m.outputs})
		return args.ID, state, nil
	case typeRole:
		state["name"] = resource.NewProperty(args.Name + "-7c1d2e3")
		state["arn"] = resource.NewProperty("arn:aws:iam::210987654321:role/" + args.Name + "-7c1d2e3")
	case typeFunc:
		state["arn"] = resource.NewProperty("arn:aws:lambda:us-east-1:210987654321:function:" + args.Inputs["name"].StringValue())
	}
	return args.Name + "-id", state, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

func (m *mocks) find(t *testing.T, typ string) registered {
	t.Helper()
	var found []registered
	for _, r := range m.resources {
		if r.Type == typ {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d resources of type %s, want 1: %v", len(found), typ, m.resources)
	}
	return found[0]
}

// projectConfig is the config the CLI gives the program: Pulumi.yaml's
// defaults, then set.
func projectConfig(t *testing.T, set map[string]string) map[string]string {
	t.Helper()
	proj, err := workspace.LoadProject("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if proj.Name.String() != project {
		t.Fatalf("Pulumi.yaml names project %s, want %s", proj.Name, project)
	}
	cfg := map[string]string{}
	for key, ct := range proj.Config {
		if ct.Default == nil {
			continue
		}
		text, ok := ct.Default.(string)
		if !ok {
			b, err := json.Marshal(ct.Default)
			if err != nil {
				t.Fatal(err)
			}
			text = string(b)
		}
		cfg[project+":"+key] = text
	}
	for k, v := range set {
		cfg[project+":"+k] = v
	}
	return cfg
}

// runConsumer runs the example against mocks, the referenced stack
// exporting outputs, and returns the mocks and the program's error.
func runConsumer(t *testing.T, cfg map[string]string, outputs map[string]any) (*mocks, error) {
	t.Helper()
	m := &mocks{outputs: outputs}
	err := pulumi.RunErr(program, pulumi.WithMocks(project, "dev", m), func(info *pulumi.RunInfo) { info.Config = cfg })
	return m, err
}

func producerOutputs() map[string]any {
	return map[string]any{
		"layerArn":      producerArn,
		"layerArns":     producerArns(),
		"layerPackages": producerPackages,
		"layerLicenses": producerLicenses,
		"functionName":  "galerly-api-prod",
	}
}

// producerLicenses is the layerLicenses output of the referenced stack.
const producerLicenses = "BSD-3-Clause AND MIT AND MIT-CMU"

// The versions a producer with layerRegions [us-east-1, eu-west-1] and
// layerArchitectures [x86_64, arm64] publishes: the numbers differ between
// regions.
const (
	euArn      = "arn:aws:lambda:eu-west-1:123456789012:layer:galerly-image-processing:3"
	euArm64Arn = "arn:aws:lambda:eu-west-1:123456789012:layer:galerly-image-processing-arm64:2"
)

func producerArns() map[string]any {
	return map[string]any{
		"us-east-1": map[string]any{"x86_64": producerArn, "arm64": "arn:aws:lambda:us-east-1:123456789012:layer:galerly-image-processing-arm64:5"},
		"eu-west-1": map[string]any{"x86_64": euArn, "arm64": euArm64Arn},
	}
}

func TestConsumerAttachesTheReferencedLayer(t *testing.T) {
	m, err := runConsumer(t, projectConfig(t, map[string]string{"layerStack": layerStack}), producerOutputs())
	if err != nil {
		t.Fatalf("program: %v", err)
	}
	ref := m.find(t, typeRef)
	if ref.ID != layerStack || ref.Name != layerStack {
		t.Errorf("stack reference %s (id %s), want the configured stack %s", ref.Name, ref.ID, layerStack)
	}
	fn := m.find(t, typeFunc)
	layers := fn.Inputs["layers"]
	if !layers.IsArray() || len(layers.ArrayValue()) != 1 || layers.ArrayValue()[0].StringValue() != producerArn {
		t.Fatalf("function layers = %v, want [%s], the referenced stack's layerArn", layers, producerArn)
	}
	// The ARN is the reference's output, not a copy: a new layer version
	// in the producer moves this function on its next update.
	if !slices.ContainsFunc(fn.PropDep["layers"], func(u string) bool { return resource.URN(u).Type() == typeRef }) {
		t.Errorf("function layers depend on %v, want the stack reference", fn.PropDep["layers"])
	}
	if got := fn.Inputs["name"].StringValue(); got != "galerly-consumer-dev" {
		t.Errorf("function name %s, want galerly-consumer-<stack>", got)
	}
	if got := fn.Inputs["runtime"].StringValue(); got != "python3.11" {
		t.Errorf("runtime %s, want python3.11, one of the layer's", got)
	}
	code := fn.Inputs["code"]
	if !code.IsArchive() || code.ArchiveValue().Assets["handler.py"] == nil {
		t.Errorf("code = %v, want an archive holding handler.py", code)
	} else if text := code.ArchiveValue().Assets["handler.py"].(*resource.Asset).Text; !strings.Contains(text, "from PIL import") {
		t.Errorf("handler.py does not import PIL from the layer:\n%s", text)
	}
	if got := fn.Inputs["handler"].StringValue(); got != "handler.handler" {
		t.Errorf("handler %s, want handler.handler", got)
	}
	if !slices.ContainsFunc(fn.PropDep["role"], func(u string) bool { return resource.URN(u).Type() == typeRole }) {
		t.Errorf("function role does not come from its role")
	}
	att := m.find(t, typeAttach)
	if got := att.Inputs["policyArn"].StringValue(); !strings.HasSuffix(got, "/AWSLambdaBasicExecutionRole") {
		t.Errorf("policy %s, want only basic execution", got)
	}
}

// A consumer in another region takes the version published there, for its
// architecture, from layerArns.
func TestConsumerInAnotherRegion(t *testing.T) {
	for _, tc := range []struct {
		arch, want string
	}{
		{"x86_64", euArn},
		{"arm64", euArm64Arn},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			cfg := projectConfig(t, map[string]string{"layerStack": layerStack, "architecture": tc.arch})
			cfg["aws:region"] = "eu-west-1"
			m, err := runConsumer(t, cfg, producerOutputs())
			if err != nil {
				t.Fatalf("program: %v", err)
			}
			fn := m.find(t, typeFunc)
			layers := fn.Inputs["layers"]
			if !layers.IsArray() || len(layers.ArrayValue()) != 1 || layers.ArrayValue()[0].StringValue() != tc.want {
				t.Errorf("function layers = %v, want [%s], eu-west-1's %s version", layers, tc.want, tc.arch)
			}
			if archs := fn.Inputs["architectures"]; !archs.IsArray() || archs.ArrayValue()[0].StringValue() != tc.arch {
				t.Errorf("function architectures = %v, want [%s]", archs, tc.arch)
			}
		})
	}
}

func TestPickLayerArn(t *testing.T) {
	old := "arn:aws:lambda:us-east-1:123456789012:layer:galerly-image-processing:7"
	for _, tc := range []struct {
		name         string
		region, arch string
		arns, single any
		want         string // the ARN, or what the error says
		ok           bool
	}{
		{"its own region", "us-east-1", "x86_64", producerArns(), producerArn, producerArn, true},
		{"another region", "eu-west-1", "x86_64", producerArns(), producerArn, euArn, true},
		{"no region configured", "", "x86_64", producerArns(), producerArn, producerArn, true},
		{"a region not published", "ap-southeast-2", "x86_64", producerArns(), producerArn,
			"does not publish its layer in ap-southeast-2, where this function runs (it does in eu-west-1, us-east-1): add ap-southeast-2 to its layerRegions", false},
		{"an architecture not published", "eu-west-1", "arm64", map[string]any{"eu-west-1": map[string]any{"x86_64": euArn}}, producerArn,
			"publishes no arm64 layer in eu-west-1", false},
		{"an older producer, same region", "us-east-1", "x86_64", nil, old, old, true},
		{"an older producer, another region", "eu-west-1", "x86_64", nil, old, "publishes its layer in us-east-1 only", false},
		{"not a producer", "us-east-1", "x86_64", nil, nil, "no layerArn output", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickLayerArn(layerStack, tc.region, tc.arch, tc.arns, tc.single)
			switch {
			case tc.ok && (err != nil || got != tc.want):
				t.Errorf("= %q, %v; want %s", got, err, tc.want)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), layerStack)):
				t.Errorf("= %q, %v; want an error naming the stack and saying %q", got, err, tc.want)
			}
		})
	}
}

func TestConsumerRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     map[string]string
		outputs map[string]any
		want    []string
	}{
		{"no layerStack", nil, producerOutputs(), []string{project + ":layerStack", "pulumi config set layerStack"}},
		{"stack without the layer", map[string]string{"layerStack": layerStack}, map[string]any{"layerPackages": producerPackages},
			[]string{layerStack, "no layerArn output"}},
		{"a package the layer lacks", map[string]string{"layerStack": layerStack, "requiredPackages": `["Pillow","opencv-python"]`}, producerOutputs(),
			[]string{producerArn, layerStack, "does not pin opencv-python"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := runConsumer(t, projectConfig(t, tc.set), tc.outputs)
			if err == nil {
				t.Fatal("program accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q: %v", w, err)
				}
			}
			for _, r := range m.resources {
				if r.Type == typeFunc && r.Inputs["layers"].IsArray() {
					for _, l := range r.Inputs["layers"].ArrayValue() {
						if l.IsString() && l.StringValue() != "" {
							t.Errorf("the function was given layer %s anyway", l.StringValue())
						}
					}
				}
			}
		})
	}
}

func TestMissingPackages(t *testing.T) {
	pins := []string{"numpy==2.1.3", "pillow==11.0.0", "pillow-heif==0.20.0"}
	for _, tc := range []struct {
		required, want []string
	}{
		{[]string{"pillow"}, nil},
		{[]string{"Pillow", "NumPy", "pillow_heif", "Pillow.Heif"}, nil},
		{[]string{"rawpy", "pillow", "rawpy"}, []string{"rawpy"}},
		{nil, nil},
	} {
		if got := missingPackages(pins, tc.required); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("missingPackages(%v) = %v, want %v", tc.required, got, tc.want)
		}
	}
}

func TestStatedLicenses(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string // the licenses, or what the error says
		ok   bool
	}{
		{"stated", producerLicenses, producerLicenses, true},
		{"a producer from before SBOMs", nil, "", true},
		{"not an expression", []any{"MIT"}, "want an SPDX license expression", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := statedLicenses(layerStack, tc.v)
			switch {
			case tc.ok && (err != nil || got != tc.want):
				t.Errorf("= %q, %v; want %q", got, err, tc.want)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), layerStack)):
				t.Errorf("= %q, %v; want an error naming the stack and saying %q", got, err, tc.want)
			}
		})
	}
}

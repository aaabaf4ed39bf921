package main

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/galerly/galerly-lambda/build"
	"github.com/galerly/galerly-lambda/build/license"
	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/target"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// The program runs here as the Pulumi CLI would run it (same config, same
// project root) against mocks that record every resource it registers.

const (
	project = "galerly-lambda"

	typeStack     = "pulumi:pulumi:Stack"
	typeBucket    = "aws:s3/bucketV2:BucketV2"
	typeSSE       = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
	typeBlock     = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
	typeOwnership = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
	typeLayer     = "galerly:lambda:Layer"
	typeCommand   = "command:local:Command"
	typeLayerVer  = "aws:lambda/layerVersion:LayerVersion"
	typeLayerPerm = "aws:lambda/layerVersionPermission:LayerVersionPermission"
	typeFuncComp  = "galerly:lambda:Function"
	typeRole      = "aws:iam/role:Role"
	typeAttach    = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
	typeLogGroup  = "aws:cloudwatch/logGroup:LogGroup"
	typeFunction  = "aws:lambda/function:Function"
	typeInvoke    = "aws:lambda/invocation:Invocation"
	typeAlias     = "aws:lambda/alias:Alias"
	typeQuery     = "aws:cloudwatch/queryDefinition:QueryDefinition"
	typeRolePol   = "aws:iam/rolePolicy:RolePolicy"
	// typeAWSProvider is an explicit aws provider's type.
	typeAWSProvider = "pulumi:providers:aws"

	// What the mocked AWS names things.
	mockBucket  = "artifacts" + mockBucketSuffix
	mockAccount = "123456789012"
	// mockBucketSuffix is what the mocked auto-naming adds to a bucket's
	// resource name.
	mockBucketSuffix = "-4f1c2b9"
	mockUnzip        = 187_654_321
	// mockVersion is the version the mocked Lambda publishes.
	mockVersion = "7"
	// selfTestOK is what the app's self-test answers when the layer works.
	selfTestOK = `{"ok": true, "packages": {"PIL": "11.0.0", "rawpy": "0.24.0", "pillow_heif": "0.20.0", "numpy": "2.1.3"}, "raw": true, "heic": true, "python": "3.11.9"}`
)

// functionArn is the unversioned ARN the mocked Lambda gives a function.
func functionArn(name string) string {
	return fmt.Sprintf("arn:aws:lambda:us-east-1:%s:function:%s", mockAccount, name)
}

// stackConfig returns the config the Pulumi CLI gives the program for a
// stack: the defaults Pulumi.yaml declares, overlaid by Pulumi.<stack>.yaml,
// as "namespace:key" -> the value as text (JSON for lists). Both files are
// read with the Pulumi SDK's own loaders, which also check Pulumi.yaml's
// config schema (types, defaults of the declared type).
func stackConfig(t testing.TB, stack string) map[string]string {
	t.Helper()
	proj, err := workspace.LoadProject("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := workspace.LoadProjectStack(nil, proj, "Pulumi."+stack+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]string{}
	for key, ct := range proj.Config {
		if ct.Default == nil {
			continue
		}
		if !strings.Contains(key, ":") {
			key = proj.Name.String() + ":" + key
		}
		cfg[key] = configText(t, ct.Default)
	}
	for key, v := range ps.Config {
		if v.Secure() {
			// The stack's passphrase or KMS key is not here: the program
			// sees a stand-in, marked secret by runProgram, so a stack
			// with `pulumi config set --secret` values still tests.
			cfg[key.String()] = secretStandIn
			continue
		}
		text, err := v.Value(config.NopDecrypter)
		if err != nil {
			t.Fatalf("Pulumi.%s.yaml: %s: %v", stack, key, err)
		}
		cfg[key.String()] = text
	}
	return cfg
}

// secretStandIn replaces a stack file's encrypted value in tests. It has
// the shape of a Stripe test key, the one secret the program reads.
const secretStandIn = "sk_test_StandInForAnEncryptedStackValue"

// configText renders a YAML value the way the CLI hands it to a program:
// strings as they are, everything else as JSON.
func configText(t testing.TB, v any) string {
	t.Helper()
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// projectRoot is the absolute project folder, as the CLI passes it.
func projectRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// registered is one resource the program registered.
type registered struct {
	Type, Name string
	// URN is the resource's URN as the engine computes it (aliases
	// aside), and Provider the provider reference it was registered
	// with ("URN::ID"; "" for the default provider of a component).
	URN, Provider string
	Inputs        resource.PropertyMap
	// Unknown lists the inputs the program sent as not yet known; an
	// unknown inside an object is named by its path, "environment.X".
	Unknown []string
	Parent  string
	Deps    []string            // dependsOn URNs
	PropDep map[string][]string // input name -> URNs it was computed from
	// The options that decide how the engine replaces the resource: the
	// replacement first or the old one deleted first, the inputs whose
	// change forces a replacement, and whether the engine skips the
	// provider's delete.
	DeleteBeforeReplace bool
	ReplaceOnChanges    []string
	RetainOnDelete      bool
	// IgnoreChanges lists the inputs whose changes the engine would not
	// act on.
	IgnoreChanges []string
}

// dependsOn reports whether r lists the resource typ::name in dependsOn.
func (r registered) dependsOn(typ, name string) bool {
	return slices.ContainsFunc(r.Deps, func(u string) bool { return isURN(u, typ, name) })
}

// inputFrom reports whether input key of r was computed from typ::name.
func (r registered) inputFrom(key, typ, name string) bool {
	return slices.ContainsFunc(r.PropDep[key], func(u string) bool { return isURN(u, typ, name) })
}

func isURN(u, typ, name string) bool {
	urn := resource.URN(u)
	return string(urn.Type()) == typ && urn.Name() == name
}

// mocks records what the program registers and answers like AWS would.
type mocks struct {
	// preview leaves every provider-computed output unknown, as a preview
	// of a stack that does not exist yet sees them.
	preview bool
	// previewStdout gives the build and copy steps their stdout in a
	// preview, as a stack's state has it for a step that does not run
	// again (its inputs unchanged).
	previewStdout bool
	// report, when set, replaces the stdout of the build or copy step
	// whose triggers start with key and whose command is create.
	report func(key, create string) string
	// smoke, when set, replaces the self-test's answer of a function.
	smoke func(function string) string
	// layerVersion is the version number the mocked Lambda publishes; "1"
	// if "".
	layerVersion string
	// stack is the stack's name, for URNs.
	stack string
	// regionVersions, when set, is the version number the mocked Lambda
	// publishes in a region (layerVersion's elsewhere): versions differ
	// between regions.
	regionVersions map[string]string

	mu        sync.Mutex
	resources []registered
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	rpc := args.RegisterRPC
	r := registered{
		Type:     args.TypeToken,
		Name:     args.Name,
		URN:      m.urn(rpc.GetParent(), args.TypeToken, args.Name),
		Provider: args.Provider,
		Inputs:   args.Inputs,
		Parent:   rpc.GetParent(),
		Deps:     rpc.GetDependencies(),
		PropDep:  map[string][]string{},

		DeleteBeforeReplace: rpc.GetDeleteBeforeReplace(),
		ReplaceOnChanges:    rpc.GetReplaceOnChanges(),
		RetainOnDelete:      rpc.GetRetainOnDelete(),
		IgnoreChanges:       rpc.GetIgnoreChanges(),
	}
	for k, v := range rpc.GetPropertyDependencies() {
		r.PropDep[k] = v.GetUrns()
	}
	for k, v := range rpc.GetObject().AsMap() {
		r.Unknown = append(r.Unknown, unknownPaths(k, v)...)
	}
	slices.Sort(r.Unknown)
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()

	state := args.Inputs.Copy()
	if m.preview && args.TypeToken != typeAWSProvider && (args.TypeToken != typeCommand || !m.previewStdout) {
		return "", state, nil
	}
	switch args.TypeToken {
	case typeAWSProvider:
		return args.Name + "-id", state, nil
	case typeBucket:
		// What auto-naming would pick: "artifacts" is mockBucket.
		name := args.Name + mockBucketSuffix
		state["bucket"] = resource.NewProperty(name)
		state["arn"] = resource.NewProperty("arn:aws:s3:::" + name)
		return name, state, nil
	case typeLayerVer:
		name := args.Inputs["layerName"].StringValue()
		region := m.providerRegion(args.Provider)
		version := cmp.Or(m.regionVersions[region], m.layerVersion, "1")
		layerArn := fmt.Sprintf("arn:aws:lambda:%s:%s:layer:%s", region, mockAccount, name)
		state["layerArn"] = resource.NewProperty(layerArn)
		state["arn"] = resource.NewProperty(layerArn + ":" + version)
		state["version"] = resource.NewProperty(version)
		return layerArn + ":" + version, state, nil
	case typeLayerPerm:
		// The provider's ID: the layer and the version, comma-separated.
		return fmt.Sprintf("%s,%v", args.Inputs["layerName"].StringValue(), args.Inputs["versionNumber"].NumberValue()), state, nil
	case typeCommand:
		key := args.Inputs["triggers"].ArrayValue()[0].StringValue()
		var create string // unknown in a preview while its bucket is new
		if c := args.Inputs["create"]; c.IsString() {
			create = c.StringValue()
		}
		out := mockReport(key, create, nil)
		if m.report != nil {
			out = m.report(key, create)
		}
		state["stdout"] = resource.NewProperty("go: downloading nothing\n" + out + "\n")
		return args.Name + "-id", state, nil
	case typeRole:
		// What Pulumi's auto-naming would pick.
		state["name"] = resource.NewProperty(args.Name + "-3f9a2c1")
		state["arn"] = resource.NewProperty(fmt.Sprintf("arn:aws:iam::%s:role/%s-3f9a2c1", mockAccount, args.Name))
		return args.Name + "-3f9a2c1", state, nil
	case typeLogGroup:
		state["arn"] = resource.NewProperty(fmt.Sprintf("arn:aws:logs:us-east-1:%s:log-group:%s", mockAccount, args.Inputs["name"].StringValue()))
		return args.Inputs["name"].StringValue(), state, nil
	case typeFunction:
		name := args.Inputs["name"].StringValue()
		state["arn"] = resource.NewProperty(functionArn(name))
		state["version"] = resource.NewProperty(mockVersion)
		state["qualifiedArn"] = resource.NewProperty(functionArn(name) + ":" + mockVersion)
		return name, state, nil
	case typeInvoke:
		fn := args.Inputs["functionName"].StringValue()
		result := selfTestOK
		if m.smoke != nil {
			result = m.smoke(fn)
		}
		state["result"] = resource.NewProperty(result)
		return fn + "_" + mockVersion, state, nil
	case typeAlias:
		arn := functionArn(args.Inputs["functionName"].StringValue()) + ":" + args.Inputs["name"].StringValue()
		state["arn"] = resource.NewProperty(arn)
		return arn, state, nil
	}
	return args.Name + "-id", state, nil
}

// mockLicenses is the license summary the mocked builds report.
const mockLicenses = "BSD-3-Clause AND MIT AND MIT-CMU"

// mockReport is the report lambdapack prints for the artifact built from
// key by the step whose command is create (a build's --upload, a copy's
// --to): the mocked size and licenses, concerns, and the SBOM beside the
// zip, with a sha256 of the key's own.
func mockReport(key, create string, concerns []license.Concern) string {
	var zip string
	for _, flag := range []string{" --upload ", " --to "} {
		if _, rest, ok := strings.Cut(create, flag); ok {
			zip, _, _ = strings.Cut(rest, " ")
		}
	}
	if concerns == nil {
		concerns = []license.Concern{}
	}
	rep, err := json.Marshal(map[string]any{
		"key": key, "sha256": "00", "zipBytes": 1, "unzippedBytes": mockUnzip, "files": 1, "packages": []any{},
		"licenses": mockLicenses, "licenseConcerns": concerns,
		"sbom": map[string]string{"specVersion": "1.6", "sha256": mockSBOMSHA256(key), "s3": strings.TrimSuffix(zip, ".zip") + ".cdx.json"},
	})
	if err != nil {
		panic(err) // a map of strings and numbers always encodes
	}
	return string(rep)
}

// mockSBOMSHA256 is the sha256 the mocked report gives the SBOM of the
// artifact built from key.
func mockSBOMSHA256(key string) string {
	sum := sha256.Sum256([]byte("sbom of " + key))
	return hex.EncodeToString(sum[:])
}

// providerRegion is the region of the provider ref ("URN::ID") a
// resource was registered with: an explicit provider's region input, or
// the stack's us-east-1 for the default provider.
func (m *mocks) providerRegion(ref string) string {
	if i := strings.LastIndex(ref, "::"); i > 0 {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, r := range m.resources {
			if r.URN == ref[:i] && r.Type == typeAWSProvider {
				return r.Inputs["region"].StringValue()
			}
		}
	}
	return "us-east-1"
}

// urn is the URN the engine gives a resource of type typ named name under
// parent in the stack run, as the mock monitor computes it: the parent's
// type qualifies the type unless the parent is the stack.
func (m *mocks) urn(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(m.stack), tokens.PackageName(project), parentType, tokens.Type(typ), name))
}

// unknownPaths lists the paths under v, named path, that hold the unknown
// marker. v is an input as the program sent it, decoded to Go values.
func unknownPaths(path string, v any) []string {
	switch v := v.(type) {
	case string:
		if v == plugin.UnknownStringValue {
			return []string{path}
		}
	case map[string]any:
		var out []string
		for k, e := range v {
			out = append(out, unknownPaths(path+"."+k, e)...)
		}
		return out
	}
	return nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

// find returns the one registered resource typ::name.
func (m *mocks) find(t *testing.T, typ, name string) registered {
	t.Helper()
	var found []registered
	for _, r := range m.resources {
		if r.Type == typ && r.Name == name {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d resources %s::%s, want 1; registered: %v", len(found), typ, name, m.names())
	}
	return found[0]
}

// names lists "type::name" of every resource except providers and the stack.
func (m *mocks) names() []string {
	var out []string
	for _, r := range m.resources {
		if r.Type == typeStack || strings.HasPrefix(r.Type, "pulumi:providers:") {
			continue
		}
		out = append(out, r.Type+"::"+r.Name)
	}
	slices.Sort(out)
	return out
}

// run says how to run the program.
type run struct {
	config map[string]string
	// secrets lists the full config keys whose values are secrets, as the
	// CLI marks what `pulumi config set --secret` stored.
	secrets []string
	root    string // the project folder; projectRoot if ""
	stack   string // the stack's name; "prod" if ""
	preview bool
	// previewStdout: see mocks.previewStdout.
	previewStdout bool
	report        func(key, create string) string
	smoke         func(function string) string
	// layerVersion is the version number the mocked Lambda publishes.
	layerVersion string
	// regionVersions is the version number it publishes in a region,
	// when not layerVersion.
	regionVersions map[string]string
	// body replaces program, to capture what it exports.
	body pulumi.RunFunc
}

// runProgram runs the program with mocks and returns them and its error.
func runProgram(t testing.TB, r run) (*mocks, error) {
	t.Helper()
	stack := cmp.Or(r.stack, "prod")
	m := &mocks{preview: r.preview, previewStdout: r.previewStdout, report: r.report, smoke: r.smoke, layerVersion: r.layerVersion, stack: stack,
		regionVersions: r.regionVersions}
	root := r.root
	if root == "" {
		root = projectRoot(t)
	}
	body := r.body
	if body == nil {
		body = program
	}
	err := pulumi.RunErr(body, pulumi.WithMocks(project, stack, m), func(info *pulumi.RunInfo) {
		info.Config = r.config
		info.ConfigSecretKeys = secretKeys(r)
		info.RootDirectory = root
		info.DryRun = r.preview
	})
	return m, err
}

// secretKeys is r.secrets plus every key holding secretStandIn: the CLI
// marks the values of secure keys as secret, and the program refuses a
// secret setting passed in plain text.
func secretKeys(r run) []string {
	keys := slices.Clone(r.secrets)
	for key, v := range r.config {
		if v == secretStandIn && !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	return keys
}

// mustRun runs the program and fails the test on an error.
func mustRun(t *testing.T, r run) *mocks {
	t.Helper()
	m, err := runProgram(t, r)
	if err != nil {
		t.Fatalf("program: %v", err)
	}
	return m
}

// prodTarget is the layer target Pulumi.prod.yaml declares.
func prodTarget(t *testing.T) target.Target {
	t.Helper()
	cfg := stackConfig(t, "prod")
	var runtimes []string
	if err := json.Unmarshal([]byte(cfg[project+":layerRuntimes"]), &runtimes); err != nil {
		t.Fatal(err)
	}
	tg, err := target.New(runtimes, cfg[project+":architecture"])
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// inPins reads the exact pins of a .in file, sorted, as "name==version".
func inPins(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line != "" {
			name, version, ok := strings.Cut(line, "==")
			if !ok {
				t.Fatalf("%s: %q is not an exact pin", path, line)
			}
			out = append(out, lock.NormalizeName(name)+"=="+version)
		}
	}
	slices.Sort(out)
	return out
}

func strValue(t *testing.T, r registered, key string) string {
	t.Helper()
	v, ok := r.Inputs[resource.PropertyKey(key)]
	if !ok || !v.IsString() {
		t.Fatalf("%s::%s input %s = %v, want a string", r.Type, r.Name, key, v)
	}
	return v.StringValue()
}

func strList(t *testing.T, r registered, key string) []string {
	t.Helper()
	v, ok := r.Inputs[resource.PropertyKey(key)]
	if !ok || !v.IsArray() {
		t.Fatalf("%s::%s input %s = %v, want a list", r.Type, r.Name, key, v)
	}
	var out []string
	for _, e := range v.ArrayValue() {
		if !e.IsString() {
			t.Fatalf("%s::%s input %s holds %v, want strings", r.Type, r.Name, key, e)
		}
		out = append(out, e.StringValue())
	}
	return out
}

func TestProgramGraph(t *testing.T) {
	m := mustRun(t, run{config: stackConfig(t, "prod")})
	const name = "galerly-image-processing"

	want := []string{
		typeLayer + "::" + name,
		typeLayerVer + "::" + name,
		typeBlock + "::artifacts",
		typeOwnership + "::artifacts",
		typeSSE + "::artifacts",
		typeBucket + "::artifacts",
		typeCommand + "::" + name + "-build",
	}
	want = append(want, functionResources("galerly-api-prod", true)...)
	slices.Sort(want)
	if got := m.names(); !slices.Equal(got, want) {
		t.Errorf("resources:\n got %v\nwant %v", got, want)
	}

	key, err := build.LayerKey("locks/image-processing.txt", prodTarget(t), lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pins := lockPins(t, "locks/image-processing.txt", prodTarget(t))
	for _, p := range inPins(t, "locks/image-processing.in") {
		if !slices.Contains(pins, p) {
			t.Fatalf("the lock does not pin %s from locks/image-processing.in", p)
		}
	}
	s3Key := "layers/" + name + "/" + key + ".zip"

	t.Run("build step", func(t *testing.T) {
		cmd := m.find(t, typeCommand, name+"-build")
		if got, want := strList(t, cmd, "triggers"), append([]string{key}, pins...); !slices.Equal(got, want) {
			t.Errorf("triggers = %v, want the key and every pin of the lock: %v", got, want)
		}
		wantCreate := "mkdir -p .lambdapack && go run ./build/cmd/lambdapack layer --lock locks/image-processing.txt" +
			" --runtime python3.11 --runtime python3.12 --arch x86_64 --name " + name + " --out .lambdapack/layer-" + key + ".zip" +
			" --upload s3://" + mockBucket + "/" + s3Key
		if got := strValue(t, cmd, "create"); got != wantCreate {
			t.Errorf("create =\n %s\nwant\n %s", got, wantCreate)
		}
		if got := strValue(t, cmd, "dir"); got != "." {
			t.Errorf("dir = %q, want the project folder as \".\"", got)
		}
		env := cmd.Inputs["environment"]
		if !env.IsObject() || len(env.ObjectValue()) != 1 || env.ObjectValue()["AWS_REGION"].StringValue() != "us-east-1" {
			t.Errorf("environment = %v, want only AWS_REGION=us-east-1 from aws:region", env)
		}
		for _, res := range []struct{ typ, name string }{
			{typeBucket, "artifacts"}, {typeSSE, "artifacts"}, {typeBlock, "artifacts"}, {typeOwnership, "artifacts"},
		} {
			if !cmd.inputFrom("create", res.typ, res.name) {
				t.Errorf("the upload command does not wait for %s::%s", res.typ, res.name)
			}
		}
		if !isURN(cmd.Parent, typeLayer, name) {
			t.Errorf("build step's parent = %s, want the layer component", cmd.Parent)
		}
	})

	t.Run("layer version", func(t *testing.T) {
		lv := m.find(t, typeLayerVer, name)
		if got := strValue(t, lv, "s3Key"); got != s3Key {
			t.Errorf("s3Key = %s, want %s (the key build.LayerKey computes)", got, s3Key)
		}
		if got := strValue(t, lv, "s3Bucket"); got != mockBucket {
			t.Errorf("s3Bucket = %s, want the artifacts bucket %s", got, mockBucket)
		}
		if got := strValue(t, lv, "layerName"); got != name {
			t.Errorf("layerName = %s, want %s", got, name)
		}
		if got, want := strList(t, lv, "compatibleRuntimes"), []string{"python3.11", "python3.12"}; !slices.Equal(got, want) {
			t.Errorf("compatibleRuntimes = %v, want %v", got, want)
		}
		if got, want := strList(t, lv, "compatibleArchitectures"), []string{"x86_64"}; !slices.Equal(got, want) {
			t.Errorf("compatibleArchitectures = %v, want %v", got, want)
		}
		desc := strValue(t, lv, "description")
		if len(desc) > maxDescription {
			t.Errorf("description is %d characters, Lambda allows %d: %q", len(desc), maxDescription, desc)
		}
		for _, p := range pins {
			if !strings.Contains(desc, p) {
				t.Errorf("description %q does not name %s", desc, p)
			}
		}
		if !lv.dependsOn(typeCommand, name+"-build") {
			t.Errorf("layer version depends on %v, want the build step", lv.Deps)
		}
		// The licenses the build reported, not a claim of the program's.
		if got := strValue(t, lv, "licenseInfo"); got != mockLicenses || !lv.inputFrom("licenseInfo", typeCommand, name+"-build") {
			t.Errorf("licenseInfo = %q (from %v), want the build report's %q", got, lv.PropDep["licenseInfo"], mockLicenses)
		}
		if !lv.inputFrom("s3Bucket", typeBucket, "artifacts") {
			t.Errorf("s3Bucket does not come from the artifacts bucket")
		}
		if !isURN(lv.Parent, typeLayer, name) {
			t.Errorf("layer version's parent = %s, want the layer component", lv.Parent)
		}
	})

	t.Run("bucket", func(t *testing.T) {
		sse := m.find(t, typeSSE, "artifacts")
		rules := sse.Inputs["rules"]
		if !rules.IsArray() || len(rules.ArrayValue()) != 1 {
			t.Fatalf("encryption rules = %v, want one", rules)
		}
		def := rules.ArrayValue()[0].ObjectValue()["applyServerSideEncryptionByDefault"].ObjectValue()
		if got := def["sseAlgorithm"].StringValue(); got != "AES256" {
			t.Errorf("default encryption = %q, want AES256", got)
		}
		block := m.find(t, typeBlock, "artifacts")
		for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
			if v := block.Inputs[resource.PropertyKey(k)]; !v.IsBool() || !v.BoolValue() {
				t.Errorf("public access block %s = %v, want true", k, v)
			}
		}
		own := m.find(t, typeOwnership, "artifacts")
		if got := own.Inputs["rule"].ObjectValue()["objectOwnership"].StringValue(); got != "BucketOwnerEnforced" {
			t.Errorf("object ownership = %q, want BucketOwnerEnforced (ACLs off)", got)
		}
		for _, r := range []registered{sse, block, own} {
			if got := strValue(t, r, "bucket"); got != mockBucket {
				t.Errorf("%s applies to bucket %q, want %q", r.Type, got, mockBucket)
			}
		}
	})
}

// exported runs the program's resources and returns its outputs, resolved.
func exported(t *testing.T, r run) map[string]any {
	t.Helper()
	out, _ := exportedAndMocks(t, r)
	return out
}

// exportedAndMocks runs the program and returns its outputs, resolved, and
// the mocks that recorded its resources.
func exportedAndMocks(t *testing.T, r run) (map[string]any, *mocks) {
	t.Helper()
	return exportedWith(t, r, nil)
}

// exportedWith is exportedAndMocks with setup, when not nil, called on the
// context before the program runs (to wrap its logger, say).
func exportedWith(t *testing.T, r run, setup func(*pulumi.Context)) (map[string]any, *mocks) {
	t.Helper()
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		out = map[string]any{}
	)
	r.body = func(ctx *pulumi.Context) error {
		if setup != nil {
			setup(ctx)
		}
		outputs, err := deploy(ctx)
		if err != nil {
			return err
		}
		for name, v := range outputs {
			ctx.Export(name, v)
			wg.Add(1)
			pulumi.ToOutput(v).ApplyT(func(x any) any {
				mu.Lock()
				out[name] = x
				mu.Unlock()
				wg.Done()
				return x
			})
		}
		return nil
	}
	m := mustRun(t, r)
	wg.Wait()
	return out, m
}

func TestProgramOutputs(t *testing.T) {
	out := exported(t, run{config: stackConfig(t, "prod")})
	key, err := build.LayerKey("locks/image-processing.txt", prodTarget(t), lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	layerArn := "arn:aws:lambda:us-east-1:" + mockAccount + ":layer:galerly-image-processing"
	want := map[string]any{
		"layerArn":              layerArn + ":1",
		"layerUnversionedArn":   layerArn,
		"layerVersion":          "1",
		"layerKey":              key,
		"layerPackages":         lockPins(t, "locks/image-processing.txt", prodTarget(t)),
		"layerS3Uri":            "s3://" + mockBucket + "/layers/galerly-image-processing/" + key + ".zip",
		"layerUnzippedBytes":    mockUnzip,
		"layerSharedWith":       []any{},
		"layerArns":             map[string]any{"us-east-1": map[string]any{"x86_64": layerArn + ":1"}},
		"layerVersions":         map[string]any{"us-east-1": map[string]any{"x86_64": "1"}},
		"layerS3Uris":           map[string]any{"x86_64": map[string]any{"us-east-1": "s3://" + mockBucket + "/layers/galerly-image-processing/" + key + ".zip"}},
		"functionName":          "galerly-api-prod",
		"functionArn":           functionArn("galerly-api-prod"),
		"functionVersion":       mockVersion,
		"liveAliasArn":          functionArn("galerly-api-prod") + ":live",
		"codeKey":               prodCodeKey(t, "."),
		"functionS3Uri":         "s3://" + mockBucket + "/functions/galerly-api-prod/" + prodCodeKey(t, ".") + ".zip",
		"functionUnzippedBytes": mockUnzip,
		"functionSbomS3Uri":     "s3://" + mockBucket + "/functions/galerly-api-prod/" + prodCodeKey(t, ".") + ".cdx.json",
		"layerLicenses":         mockLicenses,
		"layerSbomS3Uri":        "s3://" + mockBucket + "/layers/galerly-image-processing/" + key + ".cdx.json",
		"layerSbomS3Uris":       map[string]any{"x86_64": map[string]any{"us-east-1": "s3://" + mockBucket + "/layers/galerly-image-processing/" + key + ".cdx.json"}},
		"extraLiveAliasArns":    map[string]any{},
		"logQueryNames": map[string]any{
			"galerly-api-prod": []any{"galerly-api-prod/cold-starts-by-version", "galerly-api-prod/snapstart-restores-by-version"},
		},
	}
	for name, w := range want {
		got, ok := out[name]
		if !ok {
			t.Errorf("output %s not exported", name)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("output %s = %v, want %v", name, got, w)
		}
	}
	for name := range out {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected output %s", name)
		}
	}
}

// A pull request's preview computes the key from the lock: the build
// step's triggers and the layer version's S3 key and description are exact
// even before the bucket exists.
func TestPreviewIsExact(t *testing.T) {
	m := mustRun(t, run{config: stackConfig(t, "prod"), preview: true})
	key, err := build.LayerKey("locks/image-processing.txt", prodTarget(t), lock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := m.find(t, typeCommand, "galerly-image-processing-build")
	if got := strList(t, cmd, "triggers"); len(got) == 0 || got[0] != key {
		t.Errorf("preview triggers = %v, want the key %s first", got, key)
	}
	if !slices.Equal(cmd.Unknown, []string{"create"}) {
		t.Errorf("preview: unknown build-step inputs %v, want only create (it names the new bucket)", cmd.Unknown)
	}
	lv := m.find(t, typeLayerVer, "galerly-image-processing")
	if got := strValue(t, lv, "s3Key"); !strings.Contains(got, key) {
		t.Errorf("preview s3Key = %s, want it to contain %s", got, key)
	}
	// The licenses come from the build's report: unknown until it runs.
	if !slices.Equal(lv.Unknown, []string{"licenseInfo", "s3Bucket"}) {
		t.Errorf("preview: unknown layer-version inputs %v, want only licenseInfo and s3Bucket", lv.Unknown)
	}
	code := prodCodeKey(t, ".")
	fb := m.find(t, typeCommand, "galerly-api-prod-build")
	if got := strList(t, fb, "triggers"); !slices.Equal(got, []string{code}) {
		t.Errorf("preview: function build triggers = %v, want the code key %s", got, code)
	}
	fn := m.find(t, typeFunction, "galerly-api-prod")
	if got := strValue(t, fn, "s3Key"); got != "functions/galerly-api-prod/"+code+".zip" {
		t.Errorf("preview: function s3Key = %s, want the code key's", got)
	}
}

// With the bucket and the layer's size already known (a stack that
// exists), a preview shows the function's build command in full: a new
// layer's size, unknown until it is built, is in the environment, not the
// command.
func TestPreviewShowsFunctionBuildCommand(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg[project+":artifactsBucket"] = "galerly-artifacts"
	m := mustRun(t, run{config: cfg, preview: true})
	fb := m.find(t, typeCommand, "galerly-api-prod-build")
	if slices.Contains(fb.Unknown, "create") {
		t.Fatalf("preview: the function build command is unknown; unknown inputs %v", fb.Unknown)
	}
	create := strValue(t, fb, "create")
	if !strings.Contains(create, "--upload s3://galerly-artifacts/functions/galerly-api-prod/"+prodCodeKey(t, ".")+".zip") {
		t.Errorf("preview: create = %s, want the exact upload", create)
	}
	if want := []string{"environment." + layerSizeVar}; !slices.Equal(fb.Unknown, want) {
		t.Errorf("preview: unknown function build inputs %v, want only %v: the layer's size, unknown until it is built", fb.Unknown, want)
	}
}

// With artifactsBucket set, the stack uses that bucket and creates none.
func TestExistingBucket(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg[project+":artifactsBucket"] = "galerly-artifacts"
	m := mustRun(t, run{config: cfg})
	for _, n := range m.names() {
		if strings.HasPrefix(n, "aws:s3") {
			t.Errorf("created %s, want no bucket resources", n)
		}
	}
	lv := m.find(t, typeLayerVer, "galerly-image-processing")
	if got := strValue(t, lv, "s3Bucket"); got != "galerly-artifacts" {
		t.Errorf("s3Bucket = %q, want galerly-artifacts", got)
	}
	cmd := m.find(t, typeCommand, "galerly-image-processing-build")
	if got := strValue(t, cmd, "create"); !strings.Contains(got, " --upload s3://galerly-artifacts/layers/galerly-image-processing/") {
		t.Errorf("create = %s, want an upload to the configured bucket", got)
	}
	fn := m.find(t, typeFunction, "galerly-api-prod")
	if got := strValue(t, fn, "s3Bucket"); got != "galerly-artifacts" {
		t.Errorf("function s3Bucket = %q, want galerly-artifacts", got)
	}
	fb := m.find(t, typeCommand, "galerly-api-prod-build")
	if got := strValue(t, fb, "create"); !strings.Contains(got, " --upload s3://galerly-artifacts/functions/galerly-api-prod/") {
		t.Errorf("function build create = %s, want an upload to the configured bucket", got)
	}
}

// If the builder stored the zip under another key than the program
// computed, the update fails instead of exporting a size for the wrong
// artifact.
func TestBuildReportMustAgreeOnKey(t *testing.T) {
	other := strings.Repeat("ab", 32)
	_, err := runProgram(t, run{
		config: stackConfig(t, "prod"),
		report: func(string, string) string { return `{"key":"` + other + `","unzippedBytes":1}` },
	})
	if err == nil || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "disagree") {
		t.Fatalf("err = %v, want the key disagreement named", err)
	}
}

// copyProject makes a project folder in a temp dir holding a copy of the
// function's code and lock and the layer's lock with the given content,
// and returns its path.
func copyProject(t *testing.T, lockText string) string {
	t.Helper()
	return copyProjectWith(t, map[string]string{"locks/image-processing.txt": lockText})
}

// copyProjectWith makes a project folder in a temp dir holding copies of
// app/ and both locks, with the files in replace (slash-separated path ->
// content) written over them, and returns its path.
func copyProjectWith(t *testing.T, replace map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for _, rel := range []string{"app", "locks/function.txt", "locks/image-processing.txt"} {
		copyTree(t, rel, filepath.Join(root, filepath.FromSlash(rel)))
	}
	return testenv.WriteTree(t, root, replace)
}

// copyTree copies the file or folder src to dst, keeping each file's mode
// (the exec bit is part of the code key).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() && d.Name() == "__pycache__" {
			// Python may be writing here (the app's own tests); the
			// code key leaves it out anyway.
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case !info.Mode().IsRegular():
			return nil // the code key refuses symlinks; the repo has none
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		return os.WriteFile(to, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkPreview is the program's own share of `pulumi preview` on the
// prod stack: the config read and checked, both locks parsed, the layer
// key and the code key of app/ computed, the whole graph declared (the
// resources themselves mocked). It is what a PR preview waits for before
// the provider plugins answer, and it reads no network.
func BenchmarkPreview(b *testing.B) {
	cfg := stackConfig(b, "prod")
	for b.Loop() {
		m, err := runProgram(b, run{config: cfg, preview: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(m.names()) == 0 {
			b.Fatal("the preview declared nothing")
		}
	}
}

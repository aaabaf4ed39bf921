// Command consumer is an example of another Pulumi program using the
// image-processing layer that the galerly-lambda stack publishes. It reads
// that stack's layerArns and layerPackages through a StackReference (the
// stack's name comes from this stack's config, layerStack), picks the
// version published in its own region (aws:region) for its architecture,
// checks that the layer holds the packages its code imports, and attaches
// the layer to a function of its own. A new layer version reaches this
// function on its next `pulumi up`: the reference then gives the new ARN.
// It also exports the licenses the layer states (layerLicenses), so this
// stack shows what it ships with its function.
//
// A layer can only be attached in its own region, and its version numbers
// differ between regions, so the ARN is always read from layerArns for
// this region, never made from another region's.
//
//	cd examples/consumer
//	pulumi stack init dev
//	pulumi config set layerStack organization/galerly-lambda/prod
//	pulumi config set aws:region eu-west-1     # one of the stack's layerRegions
//	pulumi config set architecture arm64       # one of its layerArchitectures (default x86_64)
//	pulumi up
//
// It needs read access to the galerly-lambda stack's state (the same
// backend); a consumer without it takes the ARN as plain config instead
// (docs/operations.md: the layer's lifecycle).
package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func main() { pulumi.Run(program) }

// handlerSource is the example function: it imports Pillow from the layer
// (mounted at /opt/python) and says which version it got.
const handlerSource = `import importlib.metadata


def handler(event, context):
    from PIL import Image  # from the layer

    return {"pillow": importlib.metadata.version("pillow"), "formats": len(Image.registered_extensions())}
`

// trustPolicy lets the Lambda service assume the function's role.
const trustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// settings is this stack's config.
type settings struct {
	// LayerStack is the galerly-lambda stack, e.g.
	// organization/galerly-lambda/prod.
	LayerStack   string
	FunctionName string
	Runtime      string
	// Region is this stack's aws:region, where the function runs; ""
	// when unset (then the producer's own region is assumed).
	Region string
	// Architecture is the function's, x86_64 or arm64.
	Architecture string
	// RequiredPackages are distribution names the layer must pin.
	RequiredPackages []string
}

func readSettings(ctx *pulumi.Context) (*settings, error) {
	cfg := config.New(ctx, "")
	s := &settings{
		FunctionName:     cfg.Get("functionName"),
		Runtime:          cfg.Get("runtime"),
		Region:           config.New(ctx, "aws").Get("region"),
		Architecture:     cfg.Get("architecture"),
		RequiredPackages: []string{"pillow"},
	}
	if s.Architecture == "" {
		s.Architecture = "x86_64"
	}
	if s.Architecture != "x86_64" && s.Architecture != "arm64" {
		return nil, fmt.Errorf("config %s:architecture %q: want x86_64 or arm64", ctx.Project(), s.Architecture)
	}
	var err error
	if s.LayerStack, err = cfg.Try("layerStack"); err != nil || s.LayerStack == "" {
		return nil, fmt.Errorf("config %s:layerStack is not set: give the galerly-lambda stack whose layer this uses, e.g. `pulumi config set layerStack organization/galerly-lambda/prod`", ctx.Project())
	}
	if s.FunctionName == "" {
		s.FunctionName = "galerly-consumer-" + ctx.Stack()
	}
	if s.Runtime == "" {
		s.Runtime = "python3.11"
	}
	if _, err := cfg.Try("requiredPackages"); err == nil {
		if err := cfg.TryObject("requiredPackages", &s.RequiredPackages); err != nil {
			return nil, fmt.Errorf("config %s:requiredPackages: want a list of distribution names (set them with pulumi config set --path 'requiredPackages[0]' pillow): %w", ctx.Project(), err)
		}
	}
	return s, nil
}

func program(ctx *pulumi.Context) error {
	s, err := readSettings(ctx)
	if err != nil {
		return err
	}
	ref, err := pulumi.NewStackReference(ctx, s.LayerStack, nil)
	if err != nil {
		return err
	}
	packages := ref.GetOutput(pulumi.String("layerPackages")).ApplyT(func(v any) ([]string, error) {
		return stringList(s.LayerStack, "layerPackages", v)
	}).(pulumi.StringArrayOutput)
	// The ARN the function takes resolves only once the layer was found to
	// hold every required package, so a layer without them fails the update
	// before the function changes.
	layerArn := pulumi.All(ref.GetOutput(pulumi.String("layerArns")), ref.GetOutput(pulumi.String("layerArn")), packages).ApplyT(func(v []any) (string, error) {
		arn, err := pickLayerArn(s.LayerStack, s.Region, s.Architecture, v[0], v[1])
		if err != nil {
			return "", err
		}
		if missing := missingPackages(v[2].([]string), s.RequiredPackages); len(missing) > 0 {
			return "", fmt.Errorf("layer %s (stack %s) does not pin %s, which this function needs; it has %s",
				arn, s.LayerStack, strings.Join(missing, ", "), strings.Join(v[2].([]string), " "))
		}
		return arn, nil
	}).(pulumi.StringOutput)

	role, err := iam.NewRole(ctx, s.FunctionName, &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(trustPolicy),
	})
	if err != nil {
		return err
	}
	logs, err := iam.NewRolePolicyAttachment(ctx, s.FunctionName+"-basic-execution", &iam.RolePolicyAttachmentArgs{
		Role:      role.Name,
		PolicyArn: pulumi.String("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
	})
	if err != nil {
		return err
	}
	fn, err := lambda.NewFunction(ctx, s.FunctionName, &lambda.FunctionArgs{
		Name:          pulumi.String(s.FunctionName),
		Role:          role.Arn,
		Runtime:       pulumi.String(s.Runtime),
		Architectures: pulumi.StringArray{pulumi.String(s.Architecture)},
		Handler:       pulumi.String("handler.handler"),
		Code: pulumi.NewAssetArchive(map[string]any{
			"handler.py": pulumi.NewStringAsset(handlerSource),
		}),
		Layers: pulumi.StringArray{layerArn},
	}, pulumi.DependsOn([]pulumi.Resource{logs}))
	if err != nil {
		return err
	}
	ctx.Export("functionName", fn.Name)
	ctx.Export("layerArn", layerArn)
	ctx.Export("layerPackages", packages)
	ctx.Export("layerLicenses", ref.GetOutput(pulumi.String("layerLicenses")).ApplyT(func(v any) (string, error) {
		return statedLicenses(s.LayerStack, v)
	}).(pulumi.StringOutput))
	return nil
}

// statedLicenses reads the producer's layerLicenses output: the SPDX
// expression of the licenses its layer's wheels declare (its SBOM,
// layerSbomS3Uris, has the rest). A producer from before SBOMs has none:
// "".
func statedLicenses(stack string, v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", fmt.Errorf("stack %s output layerLicenses = %v, want an SPDX license expression", stack, v)
}

// pickLayerArn picks the layer version for a function in region on arch
// from the producer stack's outputs: layerArns (region -> architecture ->
// versioned ARN), or, from a producer older than layerArns, layerArn when
// it is in region. region "" takes the producer's own (layerArn's).
func pickLayerArn(stack, region, arch string, arns, single any) (string, error) {
	home, _ := single.(string)
	if !strings.Contains(home, ":layer:") {
		return "", fmt.Errorf("stack %s has no layerArn output (got %v): is it a galerly-lambda stack, deployed?", stack, single)
	}
	homeRegion := strings.Split(home, ":")[3]
	if region == "" {
		region = homeRegion
	}
	byRegion, ok := arns.(map[string]any)
	if !ok {
		// A producer from before layerArns publishes in its own region,
		// for one architecture, whose version layerArn is.
		if region != homeRegion {
			return "", fmt.Errorf("stack %s publishes its layer in %s only (no layerArns output), and this function runs in %s: a function can use only a layer of its own region", stack, homeRegion, region)
		}
		return home, nil
	}
	published := make([]string, 0, len(byRegion))
	for r := range byRegion {
		published = append(published, r)
	}
	slices.Sort(published)
	byArch, ok := byRegion[region].(map[string]any)
	if !ok {
		return "", fmt.Errorf("stack %s does not publish its layer in %s, where this function runs (it does in %s): add %s to its layerRegions",
			stack, region, strings.Join(published, ", "), region)
	}
	arn, ok := byArch[arch].(string)
	if !ok || !strings.Contains(arn, ":layer:") {
		return "", fmt.Errorf("stack %s publishes no %s layer in %s (layerArns[%q] = %v): add %s to its layerArchitectures", stack, arch, region, region, byRegion[region], arch)
	}
	return arn, nil
}

// stringList reads a stack output that is a list of strings.
func stringList(stack, output string, v any) ([]string, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("stack %s output %s = %v, want a list of name==version pins", stack, output, v)
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		s, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("stack %s output %s holds %v, want strings", stack, output, item)
		}
		out = append(out, s)
	}
	return out, nil
}

// missingPackages returns the names in required that no "name==version"
// pin of pins names, in required's order. Names compare as PEP 503
// normalizes them (case, and runs of -, _ and . alike).
func missingPackages(pins, required []string) []string {
	have := map[string]bool{}
	for _, p := range pins {
		name, _, _ := strings.Cut(p, "==")
		have[normalize(name)] = true
	}
	var out []string
	for _, r := range required {
		if !have[normalize(r)] && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// normalize is a distribution name as PEP 503 compares it.
func normalize(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	return strings.Join(strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' || r == '.' }), "-")
}

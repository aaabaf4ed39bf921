package main

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/target"
	"github.com/galerly/galerly-lambda/build/verify"
)

// functionType is the component's type token.
const functionType = "galerly:lambda:Function"

// liveAlias is the alias that takes traffic: it names the newest version
// that passed the smoke test.
const liveAlias = "live"

// layerSizeVar is the build step's environment variable holding the
// stack's layer's unzipped size (see NewFunction).
const layerSizeVar = "LAYER_UNZIPPED_BYTES"

// snapStartApplyOn is the one value Lambda's SnapStart.ApplyOn takes
// besides None: a snapshot of each published version.
const snapStartApplyOn = "PublishedVersions"

// lambdaTrustPolicy lets the Lambda service assume a function's role.
const lambdaTrustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// Function is a Lambda function deployed from a content-addressed code
// package, as one resource: its role and log group, the build step that
// uploads the package under the code key, the function (published, so
// every change is a new numbered version), the smoke test of that version,
// and the "live" alias, which moves to a version only once it passed.
type Function struct {
	pulumi.ResourceState

	// CodeKey is the code key of the package (build.CodeKey).
	CodeKey string
	// S3Key is where the build step uploads the package:
	// functions/NAME/CODEKEY.zip.
	S3Key string

	// The component's children: the execution role, its photos policy
	// (nil without one), the log group, its saved queries (none when off),
	// the build step, the function, its smoke test (nil when off) and the
	// live alias.
	Role         *iam.Role
	PhotosPolicy *iam.RolePolicy
	LogGroup     *cloudwatch.LogGroup
	LogQueries   []*cloudwatch.QueryDefinition
	Build        *local.Command
	Function     *lambda.Function
	SmokeTest    *lambda.Invocation
	Alias        *lambda.Alias

	// LogQueryNames are the names of the saved Logs Insights queries over
	// the function's log group; nil when they are off.
	LogQueryNames []string

	// Name is the function's name.
	Name pulumi.StringOutput
	// Arn is the function's ARN without a version.
	Arn pulumi.StringOutput
	// Version is the version the update published (or the current one).
	Version pulumi.StringOutput
	// LiveAliasArn is the ARN of the live alias: what callers (API
	// Gateway, other services) should invoke.
	LiveAliasArn pulumi.StringOutput
	// UnzippedBytes is the package's unzipped size from the build step's
	// report, and SbomS3Uri the SBOM its upload stored beside the package.
	UnzippedBytes pulumi.IntOutput
	SbomS3Uri     pulumi.StringOutput
}

// FunctionArgs says what a Function runs and with what.
type FunctionArgs struct {
	// Source and LockPath are the code folder and the dependencies' lock
	// ("" for none), relative to the project folder and slash-separated;
	// they go into the build command as written.
	Source   string
	LockPath string
	// Select names the extras and dependency groups of a pylock.toml
	// lock; they go into the build command.
	Select lock.Selection
	// CodeKey is the code key of Source and LockPath for Runtime, Arch
	// and Options.
	CodeKey string
	// Options are the build options that are part of the code key
	// (bytecode on or off); they are passed to the build command as flags.
	Options lock.Options

	Runtime          target.Runtime
	Arch             target.Arch
	Handler          string
	MemorySize       int
	Timeout          int
	LogRetentionDays int
	// Environment holds the function's environment variables; secret
	// values must be Pulumi secrets.
	Environment pulumi.StringMap

	// Layers are the function's layer version ARNs in order, the stack's
	// own layer first.
	Layers pulumi.StringArrayInput
	// LayerUnzippedBytes is the stack layer's unzipped size, which the
	// build step checks the package against Lambda's limit with.
	LayerUnzippedBytes pulumi.IntInput

	// PolicyArns are attached to the role beside basic execution.
	PolicyArns []string
	// PhotosPolicy, when set, is an inline policy document the role gets:
	// reading the photos bucket (PhotosConfig.ReadPolicy).
	PhotosPolicy string
	// Partition is the AWS partition, for the basic execution policy ARN.
	Partition string

	// Bucket is the artifacts bucket's name.
	Bucket pulumi.StringInput
	// Region, when set, is the region the build step uploads in.
	Region string
	// Endpoint, when set, is the AWS endpoint URL the build step uploads
	// to (an emulator's).
	Endpoint string
	// SmokeTest invokes each new version with the self-test request
	// before the live alias moves to it.
	SmokeTest bool
	// SnapStart turns on SnapStart for published versions. The config
	// reader has checked it against the runtime and the layer.
	SnapStart bool
	// LogQueries saves the cold-start and restore queries over the log
	// group.
	LogQueries bool
}

// NewFunction declares the function named name (the Lambda function name).
func NewFunction(ctx *pulumi.Context, name string, args *FunctionArgs, opts ...pulumi.ResourceOption) (*Function, error) {
	f := &Function{
		CodeKey: args.CodeKey,
		S3Key:   "functions/" + name + "/" + args.CodeKey + ".zip",
	}
	if err := ctx.RegisterComponentResource(functionType, name, f, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(f)

	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(lambdaTrustPolicy),
		Description:      pulumi.String("Execution role of the Lambda function " + name),
	}, parent)
	if err != nil {
		return nil, err
	}
	f.Role = role
	// The function waits for its policies, so its first invocation (the
	// smoke test) already has them.
	ready := []pulumi.Resource{}
	policies := append([]string{fmt.Sprintf(basicExecutionPolicy, args.Partition)}, args.PolicyArns...)
	for i, arn := range policies {
		suffix := "-basic-execution"
		if i > 0 {
			suffix = "-" + policySlug(arn)
		}
		att, err := iam.NewRolePolicyAttachment(ctx, name+suffix, &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: pulumi.String(arn),
		}, parent)
		if err != nil {
			return nil, err
		}
		ready = append(ready, att)
	}
	if args.PhotosPolicy != "" {
		pol, err := iam.NewRolePolicy(ctx, name+"-photos-read", &iam.RolePolicyArgs{
			Role:   role.Name,
			Policy: pulumi.String(args.PhotosPolicy),
		}, parent)
		if err != nil {
			return nil, err
		}
		f.PhotosPolicy = pol
		ready = append(ready, pol)
	}

	// Declared before the function so Lambda does not create it first,
	// without a retention.
	logArgs := &cloudwatch.LogGroupArgs{Name: pulumi.String("/aws/lambda/" + name)}
	if args.LogRetentionDays > 0 {
		logArgs.RetentionInDays = pulumi.Int(args.LogRetentionDays)
	}
	logs, err := cloudwatch.NewLogGroup(ctx, name, logArgs, parent)
	if err != nil {
		return nil, err
	}
	f.LogGroup = logs
	ready = append(ready, logs)
	if args.LogQueries {
		if f.LogQueries, err = newLogQueries(ctx, name, logs, parent); err != nil {
			return nil, err
		}
		f.LogQueryNames = logQueryNames(name)
	}

	// The layer's size reaches the build through its environment, not its
	// command line: when a new layer is being built its size is unknown at
	// preview, and an unknown in the command would hide the whole command
	// from the diff. This way the preview shows the exact command and only
	// the size as "output<string>" (an environment value is text); the
	// package is then re-checked (and its upload found in place) against
	// the new layer.
	env := buildEnvironment(args.Region, args.Endpoint)
	env[layerSizeVar] = pulumi.Sprintf("%d", args.LayerUnzippedBytes)
	build, err := newBuildStep(ctx, name+"-build", pulumi.Array{pulumi.String(args.CodeKey)},
		functionBuildCommand(name, args, f.S3Key), env, parent)
	if err != nil {
		return nil, err
	}
	f.Build = build
	ready = append(ready, build)

	fnArgs := &lambda.FunctionArgs{
		Name:          pulumi.String(name),
		Role:          role.Arn,
		Runtime:       pulumi.String(args.Runtime.String()),
		Handler:       pulumi.String(args.Handler),
		Architectures: pulumi.StringArray{pulumi.String(string(args.Arch))},
		MemorySize:    pulumi.Int(args.MemorySize),
		Timeout:       pulumi.Int(args.Timeout),
		S3Bucket:      args.Bucket,
		S3Key:         pulumi.String(f.S3Key),
		Layers:        args.Layers,
		Publish:       pulumi.Bool(true),
	}
	if len(args.Environment) > 0 {
		fnArgs.Environment = &lambda.FunctionEnvironmentArgs{Variables: args.Environment}
	}
	// Set only when on: a function without SnapStart keeps the inputs it
	// had before the key existed, so its stack sees no change. Turning it
	// on or off changes snapStart, which the provider publishes as a new
	// version (publish is true), so the smoke test and the live alias
	// follow.
	if args.SnapStart {
		fnArgs.SnapStart = &lambda.FunctionSnapStartArgs{ApplyOn: pulumi.String(snapStartApplyOn)}
	}
	fn, err := lambda.NewFunction(ctx, name, fnArgs, parent, pulumi.DependsOn(ready))
	if err != nil {
		return nil, err
	}
	f.Function = fn

	// The version the alias takes: the published one, or with the smoke
	// test on, the one the test invoked, once its answer was checked.
	liveVersion := fn.Version
	var aliasOpts []pulumi.ResourceOption
	if args.SmokeTest {
		inv, err := lambda.NewInvocation(ctx, name+"-smoke-test", &lambda.InvocationArgs{
			FunctionName: fn.Name,
			Qualifier:    fn.Version,
			Input:        pulumi.String(verify.SelfTestRequest),
			// A new version already replaces the invocation (the
			// qualifier); the triggers say why in the preview.
			Triggers: pulumi.StringMap{
				"layers":  args.Layers.ToStringArrayOutput().ApplyT(func(l []string) string { return strings.Join(l, ",") }).(pulumi.StringOutput),
				"codeKey": pulumi.String(args.CodeKey),
			},
		}, parent)
		if err != nil {
			return nil, err
		}
		f.SmokeTest = inv
		liveVersion = checkedVersion(name, inv)
		aliasOpts = append(aliasOpts, pulumi.DependsOn([]pulumi.Resource{inv}))
	}
	alias, err := lambda.NewAlias(ctx, name+"-"+liveAlias, &lambda.AliasArgs{
		Name:            pulumi.String(liveAlias),
		FunctionName:    fn.Name,
		FunctionVersion: liveVersion,
		Description:     pulumi.String(aliasDescription(args.SmokeTest)),
	}, append(aliasOpts, parent)...)
	if err != nil {
		return nil, err
	}
	f.Alias = alias

	f.Name = fn.Name
	f.Arn = fn.Arn
	f.Version = fn.Version
	f.LiveAliasArn = alias.Arn
	report := stepReport(build, "function build step "+name+"-build", args.CodeKey)
	f.UnzippedBytes = report.unzippedBytes()
	f.SbomS3Uri = report.sbomS3Uri()

	err = ctx.RegisterResourceOutputs(f, pulumi.Map{
		"codeKey":       pulumi.String(f.CodeKey),
		"name":          f.Name,
		"arn":           f.Arn,
		"version":       f.Version,
		"liveAliasArn":  f.LiveAliasArn,
		"unzippedBytes": f.UnzippedBytes,
		"sbomS3Uri":     f.SbomS3Uri,
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

func aliasDescription(smokeTest bool) string {
	if smokeTest {
		return "The newest version that passed the smoke test"
	}
	return "The newest version (smoke test off)"
}

// functionBuildCommand is the shell command that builds the function's
// package and uploads it to s3://BUCKET/S3KEY, run from the project
// folder:
//
//	mkdir -p .lambdapack && go run ./build/cmd/lambdapack function --src app
//	  --lock locks/function.txt --runtime python3.11 --arch x86_64 [--no-bytecode]
//	  --with-layer-unzipped "$LAYER_UNZIPPED_BYTES" --name NAME
//	  --out .lambdapack/function-NAME-KEY.zip --upload s3://BUCKET/functions/NAME/KEY.zip
//
// The zip's name holds the function's name as well as the key: extra
// functions build the same package at the same time, and each build
// writes its own file. Only the variable needs quoting.
func functionBuildCommand(name string, args *FunctionArgs, s3Key string) pulumi.StringOutput {
	c := newBuildCommand("function")
	c.flag("src", args.Source)
	if args.LockPath != "" {
		c.lockFlags(args.LockPath, args.Select)
	}
	c.flag("runtime", args.Runtime.String())
	c.flag("arch", string(args.Arch))
	c.options(args.Options)
	c.flag("with-layer-unzipped", `"$`+layerSizeVar+`"`)
	c.flag("name", name)
	return c.upload(".lambdapack/function-"+name+"-"+args.CodeKey+".zip", args.Bucket, s3Key)
}

// policySlug names a policy attachment after its ARN, readably and
// uniquely: "arn:aws:iam::aws:policy/service-role/X" becomes
// "aws-service-role-X", "arn:aws:iam::123456789012:policy/Y"
// "123456789012-Y". Named by ARN rather than position, reordering the
// list changes nothing.
func policySlug(arn string) string {
	rest := arn[strings.Index(arn, ":iam::")+len(":iam::"):]
	account, policyPath, _ := strings.Cut(rest, ":policy/")
	return account + "-" + strings.ReplaceAll(policyPath, "/", "-")
}

package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Request says what to verify.
type Request struct {
	Function  string // name or ARN
	Qualifier string // alias or version; "" is $LATEST
	Expected  LayerARN
	Invoke    bool // run the self-test
}

// NotFoundError is a function, or a qualifier of it, that does not exist.
type NotFoundError struct {
	Function, Qualifier, Region string
	// FunctionExists is true when only the qualifier is missing.
	FunctionExists bool
}

// Error says which is missing, the function or its qualifier, and the
// fix for each.
func (e *NotFoundError) Error() string {
	if e.FunctionExists {
		return fmt.Sprintf("function %s has no alias or version %q in %s: pass --qualifier '$LATEST' to check the unpublished code, or run pulumi up to publish a version and move the alias",
			e.Function, e.Qualifier, e.Region)
	}
	return fmt.Sprintf("no function %s in %s for the account of these credentials: check --function, the region and the account (aws sts get-caller-identity)",
		e.Function, e.Region)
}

// Gather reads, through the Lambda API, everything the checks need:
// GetFunctionConfiguration at the qualifier, GetLayerVersion of the
// expected layer version, ListLayerVersions of that layer, and with
// req.Invoke the self-test invocation.
func Gather(ctx context.Context, c *lambda.Client, req Request) (Facts, error) {
	region := c.Options().Region
	cfg, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{
		FunctionName: aws.String(req.Function),
		Qualifier:    optional(req.Qualifier),
	})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			return Facts{}, Explain(c, "reading function "+req.Function, err)
		}
		e := &NotFoundError{Function: req.Function, Qualifier: req.Qualifier, Region: region}
		if req.Qualifier != "" {
			// Tell a missing alias from a missing function: the fixes
			// differ. Only a not-found answer means no function; any other
			// failure of this second look is reported as itself.
			_, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(req.Function)})
			switch {
			case err == nil:
				e.FunctionExists = true
			case !errors.As(err, &nf):
				return Facts{}, Explain(c, "reading function "+req.Function+" (its "+req.Qualifier+" was not found)", err)
			}
		}
		return Facts{}, e
	}
	f := Facts{Function: functionFacts(req, cfg), Expected: req.Expected}

	// Within the function's own account and region the layer is named by
	// its name (which every Lambda API and emulator accepts); another
	// account's layer only by its ARN.
	layerName := req.Expected.Unversioned()
	if acct, reg := arnAccountRegion(f.Function.ARN); acct == req.Expected.Account && reg == req.Expected.Region {
		layerName = req.Expected.Name
	}
	lv, err := c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{
		LayerName:     aws.String(layerName),
		VersionNumber: aws.Int64(req.Expected.Version),
	})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		// Reported by the checks: the version was deleted or never existed.
	case err != nil:
		return Facts{}, Explain(c, "reading layer version "+req.Expected.String(), err)
	default:
		f.ExpectedVersion = &LayerVersion{
			ARN:                     req.Expected,
			CompatibleRuntimes:      strs(lv.CompatibleRuntimes),
			CompatibleArchitectures: strs(lv.CompatibleArchitectures),
			LicenseInfo:             aws.ToString(lv.LicenseInfo),
		}
		layerContent(f.ExpectedVersion, lv.Content)
	}

	pages := lambda.NewListLayerVersionsPaginator(c, &lambda.ListLayerVersionsInput{LayerName: aws.String(layerName)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			if errors.As(err, &nf) {
				break // no such layer: no versions
			}
			return Facts{}, Explain(c, "listing the versions of layer "+req.Expected.Name, err)
		}
		for _, v := range page.LayerVersions {
			f.Versions = append(f.Versions, v.Version)
		}
	}

	if req.Invoke {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{
			FunctionName:   aws.String(req.Function),
			Qualifier:      optional(req.Qualifier),
			InvocationType: types.InvocationTypeRequestResponse,
			Payload:        []byte(SelfTestRequest),
		})
		if err != nil {
			return Facts{}, Explain(c, "invoking "+f.Function.display()+" with "+SelfTestRequest, err)
		}
		f.SelfTest = &Invocation{
			FunctionError:   aws.ToString(out.FunctionError),
			Payload:         out.Payload,
			ExecutedVersion: aws.ToString(out.ExecutedVersion),
		}
	}
	return f, nil
}

func functionFacts(req Request, cfg *lambda.GetFunctionConfigurationOutput) Function {
	fn := Function{
		Name:                   req.Function,
		Qualifier:              req.Qualifier,
		ARN:                    aws.ToString(cfg.FunctionArn),
		Version:                aws.ToString(cfg.Version),
		Runtime:                string(cfg.Runtime),
		Architectures:          strs(cfg.Architectures),
		PackageType:            string(cfg.PackageType),
		CodeSize:               cfg.CodeSize,
		State:                  string(cfg.State),
		StateReason:            aws.ToString(cfg.StateReason),
		LastUpdateStatus:       string(cfg.LastUpdateStatus),
		LastUpdateStatusReason: aws.ToString(cfg.LastUpdateStatusReason),
	}
	for _, l := range cfg.Layers {
		fn.Layers = append(fn.Layers, AttachedLayer{ARN: aws.ToString(l.Arn), CodeSize: l.CodeSize})
	}
	return fn
}

// arnAccountRegion returns the account and region of an ARN.
func arnAccountRegion(arn string) (account, region string) {
	parts := strings.Split(arn, ":")
	if len(parts) < 6 {
		return "", ""
	}
	return parts[4], parts[3]
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func strs[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

// Package awsconfig loads the AWS configuration lambdapack talks to S3,
// Lambda and CloudWatch Logs with: the SDK's default chain (environment,
// shared config and credentials files, SSO, web identity, container and
// instance roles), with a clear error when no region or no credentials can
// be found, and clients that work against S3-compatible endpoints (moto,
// LocalStack, MinIO) as well as AWS. Explain says what a failed call's
// error means to a person.
package awsconfig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
)

// dialTimeout bounds connecting to an endpoint, so one that silently drops
// packets fails in seconds (times the SDK's retries), not minutes.
const dialTimeout = 10 * time.Second

// Load reads the default AWS configuration and checks that it names a
// region and yields credentials, so a missing one is reported before any
// work is done instead of as an obscure signing error later.
//
// Each attempt waits at most 30 s for its response once its request is
// sent (Lambda's Invoke excepted), so an endpoint that accepts and never
// answers is retried by the SDK rather than holding the first attempt
// until the caller's deadline; WithLog names slow requests.
//
// The endpoint comes from the SDK's configured-endpoints support:
// AWS_ENDPOINT_URL for every service, AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL_LAMBDA for one, or endpoint_url in the profile.
// optFns are passed to config.LoadDefaultConfig after Load's own.
func Load(ctx context.Context, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	opts := append([]func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = dialTimeout
		})),
		// The SDK would print its own notes ("Response has no supported
		// checksum") on stderr, in the middle of lambdapack's; every
		// failure comes back as an error anyway.
		config.WithLogger(logging.Nop{}),
	}, optFns...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	// Wrapped once loaded: the SDK adds a custom CA bundle
	// (AWS_CA_BUNDLE) to the client it was given, which must be its own.
	cfg.HTTPClient = newWatchClient(cfg.HTTPClient)
	if cfg.Region == "" {
		return aws.Config{}, ErrNoRegion
	}
	if cfg.Credentials == nil {
		return aws.Config{}, fmt.Errorf("%w: the configuration has no credential provider", ErrNoCredentials)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return aws.Config{}, fmt.Errorf("AWS credentials: %w", ctx.Err())
		}
		return aws.Config{}, fmt.Errorf("%w (%v)", ErrNoCredentials, err)
	}
	if !creds.HasKeys() {
		return aws.Config{}, fmt.Errorf("%w: the provider %s returned no keys", ErrNoCredentials, creds.Source)
	}
	return cfg, nil
}

// ErrNoRegion is returned by Load when no region is configured.
var ErrNoRegion = errors.New("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or region in the AWS_PROFILE's section of ~/.aws/config")

// ErrNoCredentials is returned (wrapped) by Load when the default chain
// finds no credentials.
var ErrNoCredentials = errors.New("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, " +
	"or AWS_PROFILE to a profile in ~/.aws/config or ~/.aws/credentials (after 'aws sso login' for an SSO profile), " +
	"or run where a role is available (CI OIDC web identity, ECS task role, EC2 instance profile)")

// NewS3 returns an S3 client for cfg. When an endpoint is configured
// (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, endpoint_url in the profile) it
// uses path-style addressing (http://HOST/BUCKET/KEY): S3-compatible
// servers on a plain host and port cannot serve BUCKET.HOST names. AWS's
// own endpoints keep virtual-hosted addressing.
func NewS3(cfg aws.Config, optFns ...func(*s3.Options)) *s3.Client {
	fns := append([]func(*s3.Options){func(o *s3.Options) {
		// Runs after the client resolved its configured endpoint into
		// BaseEndpoint, so this sees the service-specific one too.
		if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
			o.UsePathStyle = true
		}
	}}, optFns...)
	return s3.NewFromConfig(cfg, fns...)
}

// S3Endpoint names where c sends requests, for error messages: the
// configured endpoint, or AWS S3 in the client's region.
func S3Endpoint(c *s3.Client) string {
	o := c.Options()
	if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
		return *o.BaseEndpoint
	}
	return "AWS S3 in " + o.Region
}

// NewLambda returns a Lambda client for cfg; a configured endpoint
// (AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL) is honoured by the SDK.
func NewLambda(cfg aws.Config, optFns ...func(*lambda.Options)) *lambda.Client {
	return lambda.NewFromConfig(cfg, optFns...)
}

// LambdaEndpoint names where c sends requests, for error messages.
func LambdaEndpoint(c *lambda.Client) string {
	o := c.Options()
	if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
		return *o.BaseEndpoint
	}
	return "AWS Lambda in " + o.Region
}

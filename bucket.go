package main

import (
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// artifactsBucket returns the name of the bucket that built layer and
// function zips are uploaded to, under keys derived from their content.
//
// With cfg.ArtifactsBucket set, that existing bucket is used and the stack
// declares nothing. Otherwise the stack creates one: private (every public
// access path blocked, ACLs disabled) and encrypted at rest by default.
// The returned name then resolves only once those settings exist, so the
// build step that uploads to it cannot run before the bucket is locked
// down.
func artifactsBucket(ctx *pulumi.Context, cfg *Config) (pulumi.StringOutput, error) {
	if cfg.ArtifactsBucket != "" {
		return pulumi.String(cfg.ArtifactsBucket).ToStringOutput(), nil
	}
	return newPrivateBucket(ctx, "artifacts", false)
}

// regionArtifactsBucket returns the name of an extra region's artifacts
// bucket, which that region's layer versions are published from (Lambda
// reads a layer's zip only from a bucket in the layer's region): existing,
// the one artifactsBuckets names, or one the stack creates there through
// the region's provider, as private and encrypted as the home region's.
// An existing bucket in another region fails the copy and the layer
// version at `up`, each with AWS's message.
//
// A created one holds only copies of the home bucket's zips, and Lambda
// keeps its own copy of each published version's, so it is disposable:
// removing the region from layerRegions deletes it with its objects,
// where a bucket left non-empty would fail that update.
func regionArtifactsBucket(ctx *pulumi.Context, region, existing string, p *aws.Provider) (pulumi.StringOutput, error) {
	if existing != "" {
		return pulumi.String(existing).ToStringOutput(), nil
	}
	return newPrivateBucket(ctx, "artifacts-"+region, true, pulumi.Provider(p))
}

// newPrivateBucket declares a bucket named name with every public access
// path blocked, ACLs disabled and encryption at rest by default, and
// returns its name once all of that is in place. disposable lets the
// bucket be deleted with the objects in it (forceDestroy). opts apply to
// the bucket and its settings alike (an extra region's provider); the
// home region's bucket is neither, which keeps its resources exactly as
// they were.
func newPrivateBucket(ctx *pulumi.Context, name string, disposable bool, opts ...pulumi.ResourceOption) (pulumi.StringOutput, error) {
	args := &s3.BucketV2Args{}
	if disposable {
		args.ForceDestroy = pulumi.Bool(true)
	}
	bucket, err := s3.NewBucketV2(ctx, name, args, opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	children := append(slices.Clone(opts), pulumi.Parent(bucket))
	sse, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name, &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{
			&s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
				ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
					SseAlgorithm: pulumi.String("AES256"),
				},
			},
		},
	}, children...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	block, err := s3.NewBucketPublicAccessBlock(ctx, name, &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, children...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	owner, err := s3.NewBucketOwnershipControls(ctx, name, &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule: &s3.BucketOwnershipControlsRuleArgs{
			ObjectOwnership: pulumi.String("BucketOwnerEnforced"),
		},
	}, children...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	ready := pulumi.All(bucket.Bucket, sse.ID(), block.ID(), owner.ID())
	return ready.ApplyT(func(v []any) string { return v[0].(string) }).(pulumi.StringOutput), nil
}

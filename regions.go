package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The regions the layer is published in besides the stack's own: each
// through an aws.Provider of its own, from an artifacts bucket of its own.
//
// The stack's region keeps the default provider, so a stack that sets
// neither layerRegions nor layerArchitectures declares the very
// resources, with the very URNs and inputs, it did before they existed.
// An extra region's provider is named after its region ("aws-eu-west-1")
// and is given that region alone: it is never pointed at another one,
// which would make Pulumi look for (and replace) every resource it holds
// in the wrong place. Removing a region removes its provider and
// resources together; a new region is a new provider.

// LayerRegion is a region the layer is published in besides the stack's:
// the provider that publishes there and the bucket its zips are copied to.
type LayerRegion struct {
	Name     string
	Provider *aws.Provider
	// Bucket is the region's artifacts bucket; it resolves only once the
	// bucket is locked down, like the home region's.
	Bucket pulumi.StringOutput
}

// regionProviderName names an extra region's provider after the region.
func regionProviderName(region string) string { return "aws-" + region }

// newLayerRegions declares the provider and the artifacts bucket of each
// extra region of rc, in rc's order.
func newLayerRegions(ctx *pulumi.Context, rc RegionsConfig) ([]LayerRegion, error) {
	var out []LayerRegion
	for _, region := range rc.Extra {
		args, err := regionProviderArgs(region, rc.Provider)
		if err != nil {
			return nil, err // loadConfig checked these already
		}
		p, err := aws.NewProvider(ctx, regionProviderName(region), args)
		if err != nil {
			return nil, err
		}
		bucket, err := regionArtifactsBucket(ctx, region, rc.Buckets[region], p)
		if err != nil {
			return nil, err
		}
		out = append(out, LayerRegion{Name: region, Provider: p, Bucket: bucket})
	}
	return out, nil
}

// providerKeys lists the aws provider's settings (the aws:* config keys),
// read from pulumi-aws's own arguments type, so a setting added by a new
// pulumi-aws is never silently left out of an extra region's provider.
func providerKeys() []string {
	t := aws.ProviderArgs{}.ElementType()
	var keys []string
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("pulumi"); tag != "" {
			keys = append(keys, tag)
		}
	}
	return keys
}

// Input types of the provider's arguments the settings are read into.
var (
	stringPtrInput   = reflect.TypeFor[pulumi.StringPtrInput]()
	boolPtrInput     = reflect.TypeFor[pulumi.BoolPtrInput]()
	intPtrInput      = reflect.TypeFor[pulumi.IntPtrInput]()
	stringArrayInput = reflect.TypeFor[pulumi.StringArrayInput]()
	endpointsInput   = reflect.TypeFor[aws.ProviderEndpointArrayInput]()
	defaultTagsInput = reflect.TypeFor[aws.ProviderDefaultTagsPtrInput]()
)

// regionProviderArgs is the arguments of region's provider: the stack's
// provider settings, as the default provider reads them from aws:*, and
// region. A setting of a shape it cannot carry (assumeRole,
// assumeRoleWithWebIdentity, ignoreTags) is an error naming it; secret
// settings stay secret.
func regionProviderArgs(region string, settings []providerSetting) (*aws.ProviderArgs, error) {
	args := &aws.ProviderArgs{}
	fields := reflect.ValueOf(args).Elem()
	for _, s := range settings {
		f, ok := fieldByTag(aws.ProviderArgs{}.ElementType(), s.Key)
		if !ok {
			return nil, fmt.Errorf("aws:%s is not a setting of the aws provider", s.Key)
		}
		field := fields.FieldByName(f.Name)
		v, err := providerValue(s.Value, field.Type())
		if err != nil {
			return nil, fmt.Errorf("aws:%s %w: the providers of the extra regions in layerRegions must carry every setting of the stack's, "+
				"or they would deploy with other credentials or to another place; set it in the environment instead, or publish in one region", s.Key, err)
		}
		if s.Secret {
			v = pulumi.ToSecret(v)
		}
		field.Set(reflect.ValueOf(v))
	}
	if region != "" {
		args.Region = pulumi.String(region)
	}
	return args, nil
}

// fieldByTag finds the field of struct type t whose pulumi tag is name.
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("pulumi") == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// providerValue reads a setting's text into an input of type t.
func providerValue(text string, t reflect.Type) (pulumi.Input, error) {
	switch t {
	case stringPtrInput:
		return pulumi.String(text), nil
	case boolPtrInput:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return nil, fmt.Errorf("is %q: want true or false", text)
		}
		return pulumi.Bool(b), nil
	case intPtrInput:
		n, err := strconv.Atoi(text)
		if err != nil {
			return nil, fmt.Errorf("is %q: want a whole number", text)
		}
		return pulumi.Int(n), nil
	case stringArrayInput:
		var items []string
		if err := json.Unmarshal([]byte(text), &items); err != nil {
			return nil, fmt.Errorf("is not a list of strings")
		}
		return pulumi.ToStringArray(items), nil
	case endpointsInput:
		var items []map[string]string
		if err := json.Unmarshal([]byte(text), &items); err != nil {
			return nil, fmt.Errorf("is not a list of service-to-URL maps")
		}
		var out aws.ProviderEndpointArray
		for _, item := range items {
			e := &aws.ProviderEndpointArgs{}
			for service, url := range item {
				f, ok := fieldByTag(reflect.TypeFor[aws.ProviderEndpointArgs](), service)
				if !ok {
					return nil, fmt.Errorf("names the service %q, which the aws provider has no endpoint setting for", service)
				}
				reflect.ValueOf(e).Elem().FieldByName(f.Name).Set(reflect.ValueOf(pulumi.String(url)))
			}
			out = append(out, e)
		}
		return out, nil
	case defaultTagsInput:
		var dt struct {
			Tags map[string]string `json:"tags"`
		}
		if err := json.Unmarshal([]byte(text), &dt); err != nil {
			return nil, fmt.Errorf("is not {\"tags\": {KEY: VALUE}}")
		}
		return aws.ProviderDefaultTagsArgs{Tags: pulumi.ToStringMap(dt.Tags)}.ToProviderDefaultTagsPtrOutput(), nil
	}
	return nil, fmt.Errorf("is set, and the program does not carry a setting of its shape to another provider")
}

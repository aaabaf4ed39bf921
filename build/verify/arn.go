package verify

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// LayerARN is a parsed, versioned Lambda layer version ARN:
// arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME:VERSION.
type LayerARN struct {
	Partition, Region, Account, Name string
	Version                          int64
}

// Layer names are 1-140 characters of letters, digits, '-' and '_'
// (Lambda's PublishLayerVersion pattern).
var (
	layerNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,140}$`)
	regionRE    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	accountRE   = regexp.MustCompile(`^[0-9]{12}$`)
)

// ParseLayerARN parses a versioned layer ARN, the form the stack's layerArn
// output and a function's Layers hold. An ARN without a version names the
// layer, not what a function runs, and is refused.
func ParseLayerARN(s string) (LayerARN, error) {
	const want = "want arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION"
	parts := strings.Split(s, ":")
	if len(parts) == 7 && parts[0] == "arn" && parts[5] == "layer" {
		return LayerARN{}, fmt.Errorf("layer ARN %q has no version: %s (the stack output layerArn)", s, want)
	}
	if len(parts) != 8 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "layer" {
		return LayerARN{}, fmt.Errorf("layer ARN %q: %s", s, want)
	}
	a := LayerARN{Partition: parts[1], Region: parts[3], Account: parts[4], Name: parts[6]}
	switch {
	case !strings.HasPrefix(a.Partition, "aws"):
		return LayerARN{}, fmt.Errorf("layer ARN %q: partition %q is not an AWS partition (aws, aws-cn, aws-us-gov)", s, a.Partition)
	case !regionRE.MatchString(a.Region):
		return LayerARN{}, fmt.Errorf("layer ARN %q: region %q is not a region name like us-east-1", s, a.Region)
	case !accountRE.MatchString(a.Account):
		return LayerARN{}, fmt.Errorf("layer ARN %q: account %q is not 12 digits", s, a.Account)
	case !layerNameRE.MatchString(a.Name):
		return LayerARN{}, fmt.Errorf("layer ARN %q: layer name %q: want 1-140 letters, digits, '-' or '_'", s, a.Name)
	}
	v, err := strconv.ParseInt(parts[7], 10, 64)
	if err != nil || v < 1 || strconv.FormatInt(v, 10) != parts[7] {
		return LayerARN{}, fmt.Errorf("layer ARN %q: version %q is not a positive number", s, parts[7])
	}
	a.Version = v
	return a, nil
}

// String formats the versioned ARN.
func (a LayerARN) String() string {
	return fmt.Sprintf("%s:%d", a.Unversioned(), a.Version)
}

// Unversioned is the layer's ARN without the version: what every version of
// one layer shares.
func (a LayerARN) Unversioned() string {
	return fmt.Sprintf("arn:%s:lambda:%s:%s:layer:%s", a.Partition, a.Region, a.Account, a.Name)
}

// SameLayer reports whether a and b are versions of one layer.
func (a LayerARN) SameLayer(b LayerARN) bool {
	return a.Unversioned() == b.Unversioned()
}

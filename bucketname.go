package main

import (
	"fmt"
	"regexp"
	"strings"
)

// S3's naming rules for general purpose buckets, as
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
// lists them. A name that breaks one can never name a bucket, so config
// naming it is refused at preview instead of at the first S3 call.
var (
	bucketChars = regexp.MustCompile(`^[a-z0-9.-]+$`)
	// "Must not be formatted as an IP address (for example, 192.168.5.4)".
	bucketIPForm = regexp.MustCompile(`^[0-9]{1,3}(\.[0-9]{1,3}){3}$`)
	// Prefixes and suffixes S3 keeps for itself: punycode, its own
	// internal names, documentation examples, access point aliases,
	// Object Lambda aliases, Multi-Region Access Points, directory
	// buckets and table buckets.
	bucketReservedPrefixes = []string{"xn--", "sthree-", "amzn-s3-demo-"}
	bucketReservedSuffixes = []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}
)

// checkBucketName checks name against S3's bucket naming rules and says
// which one it breaks. The message quotes the name: bucket names are not
// secret, and the rule alone would not show a stray character.
func checkBucketName(name string) error {
	bad := func(rule string) error {
		return fmt.Errorf("%q is not an S3 bucket name: %s", clip(name), rule)
	}
	switch {
	case len(name) < 3 || len(name) > 63:
		return bad(fmt.Sprintf("it is %d characters long; want 3 to 63", len(name)))
	case !bucketChars.MatchString(name):
		return bad("use only lowercase letters, digits, dots and hyphens")
	case !isAlnum(name[0]) || !isAlnum(name[len(name)-1]):
		return bad("it must begin and end with a letter or digit")
	case strings.Contains(name, ".."):
		return bad("it must not contain two dots in a row")
	case bucketIPForm.MatchString(name):
		return bad("it must not be formatted as an IP address")
	}
	for _, p := range bucketReservedPrefixes {
		if strings.HasPrefix(name, p) {
			return bad(fmt.Sprintf("the prefix %s is reserved by S3", p))
		}
	}
	for _, s := range bucketReservedSuffixes {
		if strings.HasSuffix(name, s) {
			return bad(fmt.Sprintf("the suffix %s is reserved by S3", s))
		}
	}
	return nil
}

func isAlnum(c byte) bool { return ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') }

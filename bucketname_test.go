package main

import (
	"strings"
	"testing"
)

// S3's naming rules, each refused with the rule it breaks.
func TestCheckBucketName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // "" for a valid name
	}{
		{"galerly-photos-prod", ""},
		{"galerly.photos.prod", ""},
		{"abc", ""},
		{strings.Repeat("a", 63), ""},
		{"192.168.5.4x", ""}, // not an IP address once a letter is in it
		{"ab", "3 to 63"},
		{strings.Repeat("a", 64), "3 to 63"},
		{"Galerly-Photos", "lowercase letters, digits, dots and hyphens"},
		{"galerly_photos", "lowercase letters, digits, dots and hyphens"},
		{"s3://galerly-photos", "lowercase letters, digits, dots and hyphens"},
		{"arn:aws:s3:::galerly-photos", "lowercase letters, digits, dots and hyphens"},
		{"-galerly-photos", "begin and end with a letter or digit"},
		{"galerly-photos.", "begin and end with a letter or digit"},
		{"galerly..photos", "two dots in a row"},
		{"192.168.5.4", "IP address"},
		{"xn--galerly", "prefix xn--"},
		{"sthree-photos", "prefix sthree-"},
		{"amzn-s3-demo-photos", "prefix amzn-s3-demo-"},
		{"photos-s3alias", "suffix -s3alias"},
		{"photos--ol-s3", "suffix --ol-s3"},
		{"photos.mrap", "suffix .mrap"},
		{"photos--x-s3", "suffix --x-s3"},
		{"photos--table-s3", "suffix --table-s3"},
	} {
		err := checkBucketName(tc.name)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("checkBucketName(%q) = %v, want it accepted", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("checkBucketName(%q) = %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

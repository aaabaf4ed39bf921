package upload

import (
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	good := []struct {
		in          string
		bucket, key string
	}{
		{"s3://galerly-artifacts/layers/img/0123.zip", "galerly-artifacts", "layers/img/0123.zip"},
		{"s3://a.b-c/k", "a.b-c", "k"},
		{"s3://abc/with space/and+plus%20.zip", "abc", "with space/and+plus%20.zip"},
		{"s3://abc/é.zip", "abc", "é.zip"},
	}
	for _, g := range good {
		loc, err := ParseURI(g.in)
		if err != nil {
			t.Errorf("ParseURI(%q): %v", g.in, err)
			continue
		}
		if loc.Bucket != g.bucket || loc.Key != g.key {
			t.Errorf("ParseURI(%q) = %+v, want bucket %q key %q", g.in, loc, g.bucket, g.key)
		}
		if loc.String() != g.in {
			t.Errorf("ParseURI(%q).String() = %q", g.in, loc.String())
		}
	}
	bad := []struct{ in, want string }{
		{"", "want s3://BUCKET/KEY"},
		{"https://bucket/key", "want s3://BUCKET/KEY"},
		{"S3://bucket/key", "want s3://BUCKET/KEY"},
		{"s3://", "no bucket"},
		{"s3:///key", "no bucket"},
		{"s3://bucket", "no key"},
		{"s3://bucket/", "no key"},
		{"s3://ab/key", "3 to 63"},
		{"s3://" + strings.Repeat("a", 64) + "/key", "3 to 63"},
		{"s3://Bucket/key", "lowercase"},
		{"s3://my_bucket/key", "lowercase"},
		{"s3://-bucket/key", "begin and end"},
		{"s3://bucket./key", "begin and end"},
		{"s3://a..b/key", `".."`},
		{"s3://a.-b/key", `".-"`},
		{"s3://192.168.1.1/key", "IP address"},
		{"s3://bucket/layers/", "ends in '/'"},
		{"s3://bucket/layers//x.zip", "empty path segment"},
		{"s3://bucket//x.zip", "empty path segment"},
		{"s3://bucket/a/../x.zip", `".." segment`},
		{"s3://bucket/./x.zip", `"." segment`},
		{"s3://bucket/a\nb", "control character"},
		{"s3://bucket/" + strings.Repeat("k", 1025), "1024"},
		{"s3://bucket/\xff.zip", "UTF-8"},
	}
	for _, b := range bad {
		_, err := ParseURI(b.in)
		if err == nil {
			t.Errorf("ParseURI(%q) succeeded, want an error containing %q", b.in, b.want)
			continue
		}
		if !strings.Contains(err.Error(), b.want) {
			t.Errorf("ParseURI(%q) = %v, want it to contain %q", b.in, err, b.want)
		}
	}
}

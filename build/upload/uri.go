package upload

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/galerly/galerly-lambda/build/internal/clip"
)

// Location is an S3 object: a bucket and a key.
type Location struct {
	Bucket string
	Key    string
}

// String returns the location as s3://BUCKET/KEY (s3://BUCKET for a
// bucket alone).
func (l Location) String() string {
	if l.Key == "" {
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + l.Key
}

// maxKeyBytes is S3's limit on a key, in bytes of UTF-8.
const maxKeyBytes = 1024

// ParseURI parses s3://BUCKET/KEY. The key is taken literally (no percent
// decoding, as the AWS CLI does). Refused, with the reason: another
// scheme, a bucket name S3 would not accept, an empty key or one naming a
// folder (ending in "/"), and keys with empty, "." or ".." segments or
// control characters: these are legal in S3 but are almost always a
// templating mistake ("layers//KEY.zip" from an empty name), and a client
// or proxy may normalize "a/../b" into a different key than the one the
// next deploy looks for.
func ParseURI(s string) (Location, error) {
	loc, reason := parseURI(s)
	if reason != nil {
		return Location{}, &URIError{URI: s, Err: reason}
	}
	return loc, nil
}

// URIError is a refused s3:// URI and why.
type URIError struct {
	URI string
	Err error // the reason, without the URI
}

// Error quotes the URI and gives the reason.
func (e *URIError) Error() string { return fmt.Sprintf("%s: %v", clip.Quote(e.URI), e.Err) }

// Unwrap returns the reason.
func (e *URIError) Unwrap() error { return e.Err }

func parseURI(s string) (Location, error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return Location{}, errors.New("want s3://BUCKET/KEY")
	}
	bucket, key, hasSlash := strings.Cut(rest, "/")
	if bucket == "" {
		return Location{}, errors.New("no bucket: want s3://BUCKET/KEY")
	}
	if err := checkBucket(bucket); err != nil {
		return Location{}, err
	}
	if !hasSlash || key == "" {
		return Location{}, fmt.Errorf("no key: want s3://%s/KEY", clip.String(bucket))
	}
	if err := checkKey(key); err != nil {
		return Location{}, err
	}
	return Location{Bucket: bucket, Key: key}, nil
}

// checkBucket applies S3's general-purpose bucket naming rules.
func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %s: must be 3 to 63 characters", clip.Quote(b))
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return fmt.Errorf("bucket name %s: only lowercase letters, digits, '.' and '-' are allowed, not %q", clip.Quote(b), r)
		}
	}
	if !isAlnum(b[0]) || !isAlnum(b[len(b)-1]) {
		return fmt.Errorf("bucket name %s: must begin and end with a letter or digit", clip.Quote(b))
	}
	for _, bad := range []string{"..", ".-", "-."} {
		if strings.Contains(b, bad) {
			return fmt.Errorf("bucket name %s: must not contain %q", clip.Quote(b), bad)
		}
	}
	if _, err := netip.ParseAddr(b); err == nil {
		return fmt.Errorf("bucket name %s: must not be an IP address", clip.Quote(b))
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func checkKey(k string) error {
	if len(k) > maxKeyBytes {
		return fmt.Errorf("key is %d bytes, S3 allows %d", len(k), maxKeyBytes)
	}
	if !utf8.ValidString(k) {
		return fmt.Errorf("key %s is not valid UTF-8", clip.Quote(k))
	}
	if strings.HasSuffix(k, "/") {
		return fmt.Errorf("key %s ends in '/': give the object's name, e.g. %sartifact.zip", clip.Quote(k), clip.String(k))
	}
	for _, r := range k {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("key %s contains the control character %U", clip.Quote(k), r)
		}
	}
	for _, seg := range strings.Split(k, "/") {
		switch seg {
		case "":
			return fmt.Errorf("key %s has an empty path segment (\"//\" or a leading '/')", clip.Quote(k))
		case ".", "..":
			return fmt.Errorf("key %s has a %q segment", clip.Quote(k), seg)
		}
	}
	return nil
}

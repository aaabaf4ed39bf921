package upload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/galerly/galerly-lambda/build/awsconfig"
)

// Kinds of failure a caller (or a test) can tell apart with errors.Is.
var (
	ErrNoSuchBucket       = errors.New("no such bucket")
	ErrAccessDenied       = errors.New("access denied")
	ErrUnreachable        = errors.New("the S3 endpoint does not answer")
	ErrCredentialsRefused = errors.New("S3 refused the credentials")
	ErrWrongRegion        = errors.New("the bucket is in another region")
	// ErrTimedOut is a request the caller's deadline (lambdapack's
	// --timeout) cut short; it also matches context.DeadlineExceeded.
	ErrTimedOut = errors.New("timed out")
)

// s3Error is a failed S3 request explained: what was tried, where, and
// what to do; it unwraps to its kind and to the SDK's error.
type s3Error struct {
	kind error
	msg  string
	err  error
}

func (e *s3Error) Error() string   { return e.msg }
func (e *s3Error) Unwrap() []error { return []error{e.kind, e.err} }

// permissions is what lambdapack needs, for access-denied messages.
const permissions = "s3:GetObject, s3:PutObject and s3:ListBucket on the bucket " +
	"(s3:ListBucket lets a HEAD of a missing object say 404 rather than 403), and s3:AbortMultipartUpload for artifacts sent in parts"

// classify turns an SDK error from op on loc into one that says what
// happened and what to do about it.
func classify(c *s3.Client, op string, loc Location, err error) error {
	ep := awsconfig.S3Endpoint(c)
	region := c.Options().Region
	var noResp *awsconfig.NoResponseError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &s3Error{ErrTimedOut, fmt.Sprintf("%s %s: timed out waiting for the S3 endpoint %s", op, loc, ep), err}
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s %s: %w", op, loc, err)
	case errors.As(err, &noResp):
		return &s3Error{ErrUnreachable, fmt.Sprintf("%s %s: timed out: the S3 endpoint %s accepts connections but does not answer (no response within %v, after the SDK's retries)%s",
			op, loc, ep, noResp.After, endpointHint()), err}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return &s3Error{ErrUnreachable, fmt.Sprintf("%s %s: the S3 endpoint %s does not answer (connection refused)%s",
			op, loc, ep, endpointHint()), err}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &s3Error{ErrUnreachable, fmt.Sprintf("%s %s: the S3 endpoint %s does not answer (cannot resolve %s)%s",
			op, loc, ep, dnsErr.Name, endpointHint()), err}
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return &s3Error{ErrUnreachable, fmt.Sprintf("%s %s: the S3 endpoint %s does not answer (timed out)%s",
			op, loc, ep, endpointHint()), err}
	}
	code, status := apiCode(err)
	switch {
	case code == "NoSuchBucket":
		return &s3Error{ErrNoSuchBucket, fmt.Sprintf("%s %s: the bucket %q does not exist at %s: create it first, or check the name",
			op, loc, loc.Bucket, ep), err}
	case (code == "Forbidden" || code == "") && status == http.StatusForbidden:
		// A HEAD's 403 has no body to say why.
		return &s3Error{ErrAccessDenied, fmt.Sprintf("%s %s: access denied (HTTP 403, no reason given) at %s: "+
			"the credentials may be unknown or expired (check AWS_ACCESS_KEY_ID or AWS_PROFILE), or lack %s",
			op, loc, ep, permissions), err}
	case code == "AccessDenied" || code == "AllAccessDisabled" || status == http.StatusForbidden && !credentialCodes[code]:
		return &s3Error{ErrAccessDenied, fmt.Sprintf("%s %s: access denied (%s) at %s: the credentials need %s",
			op, loc, describe(code, status, err), ep, permissions), err}
	case credentialCodes[code]:
		return &s3Error{ErrCredentialsRefused, fmt.Sprintf("%s %s: S3 at %s refused the credentials (%s): check AWS_ACCESS_KEY_ID and "+
			"AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or refresh an expired session (aws sso login)",
			op, loc, ep, describe(code, status, err)), err}
	case code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || status == http.StatusMovedPermanently:
		return &s3Error{ErrWrongRegion, fmt.Sprintf("%s %s: the bucket %q is not in %s (%s): set AWS_REGION to the bucket's region",
			op, loc, loc.Bucket, region, describe(code, status, err)), err}
	}
	return fmt.Errorf("%s %s at %s: %w", op, loc, ep, err)
}

var credentialCodes = map[string]bool{
	"InvalidAccessKeyId":    true,
	"SignatureDoesNotMatch": true,
	"ExpiredToken":          true,
	"InvalidToken":          true,
	"TokenRefreshRequired":  true,
}

// apiCode returns the S3 error code and HTTP status of err, if any.
func apiCode(err error) (code string, status int) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

// describe is the short form of an S3 error: its code and message, or
// the HTTP status of a HEAD, which has no body.
func describe(code string, status int, err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorMessage() != "" {
		return code + ": " + ae.ErrorMessage()
	}
	if code != "" && status != 0 {
		return fmt.Sprintf("%s, HTTP %d", code, status)
	}
	if status != 0 {
		return fmt.Sprintf("HTTP %d", status)
	}
	return code
}

// endpointHint points at the setting that chose the endpoint.
func endpointHint() string {
	for _, v := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if os.Getenv(v) != "" {
			return ": check " + v + " and that the server is running"
		}
	}
	return ": check the network and any HTTPS_PROXY"
}

func isNotFound(err error) bool {
	code, status := apiCode(err)
	return code == "NotFound" || code == "NoSuchKey" || status == http.StatusNotFound && code != "NoSuchBucket"
}

// isPreconditionFailed reports whether an If-None-Match write lost to an
// object written meanwhile (412), or to a write still in flight (409).
func isPreconditionFailed(err error) bool {
	code, status := apiCode(err)
	return code == "PreconditionFailed" || code == "ConditionalRequestConflict" ||
		status == http.StatusPreconditionFailed
}

// CheckBucket HEADs the bucket so a missing one is reported before any
// build work. A 403 is not conclusive (the bucket may allow object writes
// but not HEAD on itself), so only a 404 and an unreachable endpoint are
// errors.
func CheckBucket(ctx context.Context, c *s3.Client, bucket string) error {
	_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return nil
	}
	loc := Location{Bucket: bucket}
	code, status := apiCode(err)
	if code == "NotFound" || code == "NoSuchBucket" || status == http.StatusNotFound {
		return &s3Error{ErrNoSuchBucket, fmt.Sprintf("the bucket %q does not exist at %s: create it first, or check the name",
			bucket, awsconfig.S3Endpoint(c)), err}
	}
	cerr := classify(c, "HEAD bucket", loc, err)
	if errors.Is(cerr, ErrAccessDenied) {
		return nil
	}
	return cerr
}

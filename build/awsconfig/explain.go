package awsconfig

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Call names a failed AWS API call for Explain.
type Call struct {
	Op       string // what was being done: "reading function galerly-api"
	Service  string // "Lambda", "CloudWatch Logs": said as "the Lambda endpoint ENDPOINT"
	Endpoint string // where the call went: the configured URL, or "AWS Lambda in REGION"
	EnvVar   string // the variable that moves this service's endpoint: AWS_ENDPOINT_URL_LAMBDA
	Denied   string // what a refused caller needs: "the credentials need lambda:GetFunctionConfiguration ..."
}

// Explain wraps err, the error of an API call, with what a person would
// check: an endpoint that does not answer, credentials AWS refuses, or a
// permission they lack. The SDK's error stays reachable by errors.Is and
// errors.As; a cancelled call is only prefixed with the operation.
func Explain(err error, c Call) error {
	var (
		send   *smithyhttp.RequestSendError
		api    smithy.APIError
		resp   *smithyhttp.ResponseError
		noResp *NoResponseError
	)
	endpoint := fmt.Sprintf("the %s endpoint %s", c.Service, c.Endpoint)
	checkEndpoint := fmt.Sprintf("check %s or AWS_ENDPOINT_URL if set, and the network", c.EnvVar)
	var msg string
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", c.Op, err)
	case errors.Is(err, context.DeadlineExceeded):
		msg = fmt.Sprintf("%s: timed out waiting for %s", c.Op, endpoint)
	case errors.As(err, &noResp):
		msg = fmt.Sprintf("%s: timed out: %s accepts connections but does not answer (no response within %v, after the SDK's retries): %s", c.Op, endpoint, noResp.After, checkEndpoint)
	case errors.As(err, &send):
		msg = fmt.Sprintf("%s: %s did not answer (%v): %s", c.Op, endpoint, send.Err, checkEndpoint)
	case errors.As(err, &api) && credentialsRefused(api.ErrorCode()):
		msg = fmt.Sprintf("%s: %s refused the credentials (%s: %s): refresh them (aws sso login, or the CI role) and check the account", c.Op, c.Endpoint, api.ErrorCode(), api.ErrorMessage())
	case errors.As(err, &api) && (api.ErrorCode() == "AccessDeniedException" || api.ErrorCode() == "AccessDenied"):
		msg = fmt.Sprintf("%s: access denied (%s): %s", c.Op, api.ErrorMessage(), c.Denied)
	case errors.As(err, &resp) && resp.HTTPStatusCode() == http.StatusForbidden:
		// A 403 whose body is not the service's JSON error (a proxy's
		// page, or moto's XML): still a refusal, said as one.
		msg = fmt.Sprintf("%s: access denied (HTTP 403 from %s): %s", c.Op, c.Endpoint, c.Denied)
	default:
		return fmt.Errorf("%s at %s: %w", c.Op, c.Endpoint, err)
	}
	return &explainedError{msg: msg, err: err}
}

// credentialsRefused reports whether an API error code says the
// credentials are unknown, badly signed or expired.
func credentialsRefused(code string) bool {
	switch code {
	case "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException", "ExpiredToken", "InvalidClientTokenId":
		return true
	}
	return false
}

// explainedError is a message written for a person that still carries
// the SDK's error, for errors.Is and errors.As.
type explainedError struct {
	msg string
	err error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.err }

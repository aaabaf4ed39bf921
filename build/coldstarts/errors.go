package coldstarts

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/galerly/galerly-lambda/build/awsconfig"
)

// apiContext is what an explanation names: the operation, where it was
// sent, the variable that moves it, and what a refused caller needs.
type apiContext struct {
	op, endpoint, envVar, denied string
}

// explainAPI turns an error of a CloudWatch Logs call into a sentence a
// person can act on, keeping the SDK's error for errors.Is and errors.As.
func explainAPI(err error, a apiContext) error {
	var (
		send   *smithyhttp.RequestSendError
		api    smithy.APIError
		resp   *smithyhttp.ResponseError
		noResp *awsconfig.NoResponseError
	)
	checkEndpoint := fmt.Sprintf("check %s or AWS_ENDPOINT_URL if set, and the network", a.envVar)
	var msg string
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", a.op, err)
	case errors.Is(err, context.DeadlineExceeded):
		msg = fmt.Sprintf("%s: timed out waiting for %s", a.op, a.endpoint)
	case errors.As(err, &noResp):
		msg = fmt.Sprintf("%s: timed out: %s accepts connections but sent no response within %v (after the SDK's retries): %s", a.op, a.endpoint, noResp.After, checkEndpoint)
	case errors.As(err, &send):
		msg = fmt.Sprintf("%s: %s did not answer (%v): %s", a.op, a.endpoint, send.Err, checkEndpoint)
	case errors.As(err, &api) && isCredentialError(api.ErrorCode()):
		msg = fmt.Sprintf("%s: %s refused the credentials (%s: %s): refresh them (aws sso login, or the CI role) and check the account", a.op, a.endpoint, api.ErrorCode(), api.ErrorMessage())
	case errors.As(err, &api) && (api.ErrorCode() == "AccessDeniedException" || api.ErrorCode() == "AccessDenied"):
		msg = fmt.Sprintf("%s: access denied (%s): %s", a.op, api.ErrorMessage(), a.denied)
	case errors.As(err, &resp) && resp.HTTPStatusCode() == http.StatusForbidden:
		// A 403 whose body is not the service's JSON error (a proxy's
		// page, or moto's XML): still a refusal, said as one.
		msg = fmt.Sprintf("%s: access denied (HTTP 403 from %s): %s", a.op, a.endpoint, a.denied)
	default:
		return fmt.Errorf("%s at %s: %w", a.op, a.endpoint, err)
	}
	return &wrapped{msg: msg, err: err}
}

func isCredentialError(code string) bool {
	switch code {
	case "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException", "ExpiredToken", "InvalidClientTokenId":
		return true
	}
	return false
}

// wrapped is a message for a person that still unwraps to the cause.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

package verify

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/galerly/galerly-lambda/build/awsconfig"
)

// Explain wraps an error of a Lambda API call with what a person would
// check: an endpoint that does not answer, credentials AWS refuses, or a
// permission they lack.
func Explain(c *lambda.Client, op string, err error) error {
	endpoint := awsconfig.LambdaEndpoint(c)
	var send *smithyhttp.RequestSendError
	var api smithy.APIError
	var noResp *awsconfig.NoResponseError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return explained(err, "%s: timed out waiting for the Lambda endpoint %s", op, endpoint)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", op, err)
	case errors.As(err, &noResp):
		return explained(err, "%s: timed out: the Lambda endpoint %s accepts connections but does not answer (no response within %v, after the SDK's retries): check AWS_ENDPOINT_URL_LAMBDA or AWS_ENDPOINT_URL if set, and the network", op, endpoint, noResp.After)
	case errors.As(err, &send):
		return explained(err, "%s: the Lambda endpoint %s did not answer (%v): check AWS_ENDPOINT_URL_LAMBDA or AWS_ENDPOINT_URL if set, and the network", op, endpoint, send.Err)
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException", "ExpiredToken", "InvalidClientTokenId":
			return explained(err, "%s: %s refused the credentials (%s: %s): refresh them (aws sso login, or the CI role) and check the account", op, endpoint, api.ErrorCode(), api.ErrorMessage())
		case "AccessDeniedException", "AccessDenied":
			return explained(err, "%s: access denied (%s): the credentials need lambda:GetFunctionConfiguration, lambda:GetLayerVersion, lambda:ListLayerVersions and, with --invoke, lambda:InvokeFunction", op, api.ErrorMessage())
		}
	}
	return fmt.Errorf("%s at %s: %w", op, endpoint, err)
}

// explainedError is a message written for a person that still carries
// the SDK's error, for errors.Is and errors.As.
type explainedError struct {
	msg string
	err error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.err }

func explained(err error, format string, args ...any) error {
	return &explainedError{fmt.Sprintf(format, args...), err}
}

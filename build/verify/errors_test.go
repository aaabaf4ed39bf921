package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Each kind of failed call gets the cause a person would check, and the
// endpoint it went to.
func TestExplain(t *testing.T) {
	remote := lambda.New(lambda.Options{Region: "eu-west-1"})
	local := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:4566")})
	cases := []struct {
		name string
		c    *lambda.Client
		err  error
		want []string
	}{
		{"refused connection", local, &smithyhttp.RequestSendError{Err: fmt.Errorf("dial tcp 127.0.0.1:4566: %w", syscall.ECONNREFUSED)},
			[]string{"reading function f: the Lambda endpoint http://127.0.0.1:4566 did not answer (dial tcp 127.0.0.1:4566: connection refused)", "AWS_ENDPOINT_URL"}},
		{"AWS endpoint unreachable", remote, &smithyhttp.RequestSendError{Err: errors.New("dial tcp: lookup lambda.eu-west-1.amazonaws.com: no such host")},
			[]string{"the Lambda endpoint AWS Lambda in eu-west-1 did not answer", "no such host"}},
		{"expired token", remote, &smithy.GenericAPIError{Code: "ExpiredTokenException", Message: "The security token included in the request is expired"},
			[]string{"AWS Lambda in eu-west-1 refused the credentials (ExpiredTokenException: The security token included in the request is expired): refresh them"}},
		{"unknown key", remote, &smithy.GenericAPIError{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid."},
			[]string{"refused the credentials (UnrecognizedClientException"}},
		{"access denied", remote, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User: arn:aws:sts::1:assumed-role/ci is not authorized to perform: lambda:GetFunctionConfiguration"},
			[]string{"access denied (User: arn:aws:sts::1:assumed-role/ci is not authorized", "lambda:GetFunctionConfiguration, lambda:GetLayerVersion, lambda:ListLayerVersions and, with --invoke, lambda:InvokeFunction"}},
		{"other API error", remote, &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "Rate exceeded"},
			[]string{"reading function f at AWS Lambda in eu-west-1: api error TooManyRequestsException: Rate exceeded"}},
		{"interrupted", remote, fmt.Errorf("operation error: %w", context.Canceled),
			[]string{"reading function f: operation error: context canceled"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Explain(c.c, "reading function f", c.err)
			if !errors.Is(err, c.err) {
				t.Errorf("%v does not carry the cause %v", err, c.err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
}

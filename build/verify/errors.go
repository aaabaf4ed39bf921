package verify

import (
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/galerly/galerly-lambda/build/awsconfig"
)

// Explain wraps an error of a Lambda API call with what a person would
// check: an endpoint that does not answer, credentials AWS refuses, or a
// permission they lack.
func Explain(c *lambda.Client, op string, err error) error {
	return awsconfig.Explain(err, awsconfig.Call{
		Op:       op,
		Service:  "Lambda",
		Endpoint: awsconfig.LambdaEndpoint(c),
		EnvVar:   "AWS_ENDPOINT_URL_LAMBDA",
		Denied:   "the credentials need lambda:GetFunctionConfiguration, lambda:GetLayerVersion, lambda:ListLayerVersions and, with --invoke, lambda:InvokeFunction",
	})
}

package testenv

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// CreateUser creates an IAM user on m with one inline policy and returns
// its access key, for a test that then enforces auth (EnforceAuth) and
// acts as that user. It talks to m directly with the fixed test
// credentials, whatever endpoint the process environment names.
func (m *Moto) CreateUser(t testing.TB, name, policy string) (key, secret string) {
	t.Helper()
	ctx := context.Background()
	c := iam.New(iam.Options{
		Region:       MotoRegion,
		BaseEndpoint: aws.String(m.Endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}, nil
		}),
	})
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatalf("create IAM user %s: %v", name, err)
	}
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String(name), PolicyName: aws.String(name + "-policy"), PolicyDocument: aws.String(policy),
	}); err != nil {
		t.Fatalf("put the policy of IAM user %s: %v", name, err)
	}
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatalf("create an access key of IAM user %s: %v", name, err)
	}
	return aws.ToString(out.AccessKey.AccessKeyId), aws.ToString(out.AccessKey.SecretAccessKey)
}

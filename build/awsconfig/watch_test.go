package awsconfig

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/galerly/galerly-lambda/internal/testenv"
)

// quick loads the configuration for endpoint with the watch's times
// shortened and the SDK's backoff shortened, so a test of its retries
// takes a second, not minutes.
func quick(t *testing.T, endpoint string, log *syncBuffer) *s3.Client {
	t.Helper()
	isolate(t, endpoint)
	cfg, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if log != nil {
		cfg = WithLog(cfg, log)
	}
	w, ok := cfg.HTTPClient.(*watchClient)
	if !ok {
		t.Fatalf("Load's HTTP client is a %T, not the watch", cfg.HTTPClient)
	}
	w.responseTimeout = 200 * time.Millisecond
	w.slowAfter = 50 * time.Millisecond
	return NewS3(cfg, func(o *s3.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxBackoff = 10 * time.Millisecond })
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// An endpoint that accepts and never answers costs each attempt the
// response timeout, not the whole deadline: the SDK's retries happen
// within it, and the error says no response came.
func TestSilentEndpointIsRetriedWithinTheDeadline(t *testing.T) {
	endpoint, accepted := testenv.SilentServer(t)
	c := quick(t, endpoint, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
	var nr *NoResponseError
	if !errors.As(err, &nr) || nr.Operation != "S3 HeadObject" {
		t.Fatalf("err = %v, want a *NoResponseError for S3 HeadObject", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("three attempts took %v", took)
	}
	if n := accepted.Load(); n != 3 {
		t.Errorf("%d connections, want the SDK's 3 attempts", n)
	}
	if ctx.Err() != nil {
		t.Error("the deadline passed: the attempts were not bounded")
	}
}

// A slow request is named while it runs; the response timeout counts from
// when the request is sent, so a slow answer within it is kept.
func TestSlowRequestIsNamed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(150 * time.Millisecond)
		w.Header().Set("Content-Length", "3")
		w.Header().Set("ETag", `"x"`)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	var log syncBuffer
	c := quick(t, srv.URL, &log)
	if _, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	want := "still waiting for S3 HeadObject (HEAD " + srv.URL + "/b/k): "
	if !strings.HasPrefix(log.String(), want) {
		t.Errorf("log %q, want it to start with %q", log.String(), want)
	}
}

package upload

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/galerly/galerly-lambda/build/awsconfig"
	"github.com/galerly/galerly-lambda/internal/testenv"
)

// benchZipBytes is about the seed layer's zip (35,560,593 bytes, see
// README): what a deploy's layer build step uploads.
const benchZipBytes = 35 << 20

// BenchmarkUpload measures what a build step spends in S3, against
// moto_server on 127.0.0.1: a new seed-sized zip sent in one PUT and in
// 16 MiB parts, and the HEAD that finds it already stored (every deploy
// whose key did not change, and every rollback).
func BenchmarkUpload(b *testing.B) {
	ctx := context.Background()
	m := testenv.StartMoto(b)
	m.Setenv(b)
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		b.Fatal(err)
	}
	c := awsconfig.NewS3(cfg)
	const bucket = "lambdapack-bench"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		b.Fatal(err)
	}
	// Random bytes: a zip of deflated wheels does not compress further.
	data := make([]byte, benchZipBytes)
	if _, err := rand.Read(data); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "layer.zip")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])

	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"put", Options{}},
		{"multipart", Options{MultipartThreshold: 1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(benchZipBytes)
			for i := 0; b.Loop(); i++ {
				loc := Location{Bucket: bucket, Key: fmt.Sprintf("%s/%d.zip", bc.name, i)}
				obj, err := Upload(ctx, c, loc, path, hash, bc.opts)
				if err != nil {
					b.Fatal(err)
				}
				if obj.Reused {
					b.Fatalf("%s was reused, want a new object", loc)
				}
				// moto keeps objects in memory: drop each one so a long
				// run measures uploads, not the server's growing heap.
				if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(loc.Key)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}

	b.Run("reuse", func(b *testing.B) {
		loc := Location{Bucket: bucket, Key: "reuse/layer.zip"}
		if _, err := Upload(ctx, c, loc, path, hash, Options{}); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			obj, err := Upload(ctx, c, loc, path, hash, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if !obj.Reused {
				b.Fatal("the stored object was not reused")
			}
		}
	})
}

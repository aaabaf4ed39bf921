package main

import (
	"encoding/json"
	"fmt"
)

// photosBucketVar is the environment variable the app reads the photos
// bucket's name from: its thumbnail route's {"s3": {"bucket", "key"}}
// form takes originals from that bucket and no other.
const photosBucketVar = "PHOTOS_BUCKET"

// PhotosConfig is where the functions may read original photos from.
// Originals (20 to 80 MB for camera RAW) are too large for a request
// body, so the thumbnail route reads them from S3 instead.
type PhotosConfig struct {
	// Bucket is the photos bucket's name; "" leaves the S3 form off: no
	// variable and no permission.
	Bucket string
}

// readPhotosConfig reads photosBucket: an existing bucket, checked
// against S3's naming rules.
func readPhotosConfig(r *configReader) PhotosConfig {
	const key = "photosBucket"
	p := PhotosConfig{Bucket: r.str(key)}
	if p.Bucket != "" {
		if err := checkBucketName(p.Bucket); err != nil {
			r.failErr(key, err)
		}
	}
	return p
}

// Environment is what every function's environment gets from the photos
// config: PHOTOS_BUCKET when a bucket is set, nothing otherwise.
func (p PhotosConfig) Environment() map[string]string {
	if p.Bucket == "" {
		return nil
	}
	return map[string]string{photosBucketVar: p.Bucket}
}

// photosReadPolicy is the photos policy document with its one resource
// (a JSON string) left to fill in.
const photosReadPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"ReadPhotos","Effect":"Allow","Action":"s3:GetObject","Resource":%s}]}`

// ReadPolicy is the inline policy each function's role gets for the
// photos bucket, in the partition given: s3:GetObject on its objects and
// nothing else ("" when no bucket is set). GetObject is all the app
// needs: it also allows HeadObject, which sizes an original before it is
// read. Without s3:ListBucket, S3 answers a missing key with 403 rather
// than 404.
func (p PhotosConfig) ReadPolicy(partition string) string {
	if p.Bucket == "" {
		return ""
	}
	// A string always marshals.
	resource, _ := json.Marshal(fmt.Sprintf("arn:%s:s3:::%s/*", partition, p.Bucket))
	return fmt.Sprintf(photosReadPolicy, resource)
}

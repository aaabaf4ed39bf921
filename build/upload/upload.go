// Package upload puts a built artifact into S3 under a content-addressed
// key, the way a deploy can rely on: HEAD first, so an object with the same
// sha256 is reused and nothing is sent; an object with a different sha256
// is an error, never overwritten; a new object carries its sha256 as an S3
// checksum (verified by S3 on receipt) and in its metadata, is written with
// If-None-Match so two racing uploads cannot overwrite each other, and only
// becomes visible once complete (one PUT, or a multipart upload that is
// aborted on any failure or cancel).
package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// Object is where an artifact is in S3; its JSON form is the "s3" member
// of lambdapack's report.
type Object struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// Reused is true when the object was already there with the same
	// sha256, so nothing was sent.
	Reused bool `json:"reused"`
	// BuildSkipped is true when the object and the report stored with it
	// matched the artifact's key before building, so nothing was built
	// either (see Find).
	BuildSkipped bool `json:"buildSkipped,omitempty"`
}

// MetaSHA256 is the user-metadata entry (x-amz-meta-sha256) holding a new
// object's sha256 in hex. S3's own checksum of a multipart object is a
// checksum of the parts' checksums, and some S3-compatible stores keep no
// checksum at all, so this is what a later upload compares with.
const MetaSHA256 = "sha256"

// Defaults of Options.
const (
	DefaultMultipartThreshold = 64 << 20
	DefaultPartSize           = 16 << 20
	DefaultConcurrency        = 4

	// MinPartSize is S3's smallest part, other than the last one.
	MinPartSize = 5 << 20
	// maxParts is S3's limit on the parts of one upload.
	maxParts = 10000
)

// abortTimeout bounds the cleanup of a failed multipart upload, which runs
// even when the caller's context is already canceled.
const abortTimeout = 30 * time.Second

// Options tunes Upload; the zero value means the defaults.
type Options struct {
	// MultipartThreshold is the size from which a file is sent in parts.
	MultipartThreshold int64
	// PartSize is the size of each part but the last; at least MinPartSize.
	PartSize int64
	// Concurrency is how many parts are in flight at once.
	Concurrency int
	// ContentType is the object's type; "application/zip" if empty.
	ContentType string
	// Metadata is more user metadata for a new object (keys lowercase).
	// It is never compared: only the sha256 says whether an object is
	// the same.
	Metadata map[string]string
	// Progress receives a live progress line when it is a terminal.
	Progress io.Writer
	// OnPart, if set, is called after each part of a multipart upload is
	// stored, with the number of parts stored so far and the total. It is
	// called from the goroutines sending parts, possibly at once, so it
	// must be safe for concurrent use.
	OnPart func(done, total int)
}

func (o Options) withDefaults() (Options, error) {
	if o.MultipartThreshold == 0 {
		o.MultipartThreshold = DefaultMultipartThreshold
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.ContentType == "" {
		o.ContentType = "application/zip"
	}
	switch {
	case o.MultipartThreshold < 0:
		return o, fmt.Errorf("multipart threshold %d: want a positive size", o.MultipartThreshold)
	case o.PartSize < MinPartSize:
		return o, fmt.Errorf("part size %d: S3 needs at least %d bytes", o.PartSize, MinPartSize)
	case o.Concurrency < 0:
		return o, fmt.Errorf("concurrency %d: want a positive number", o.Concurrency)
	}
	for k := range o.Metadata {
		if k != strings.ToLower(k) || k == MetaSHA256 {
			return o, fmt.Errorf("metadata key %q: want lowercase, and not %q (set from the sha256)", k, MetaSHA256)
		}
	}
	return o, nil
}

// Upload puts the file at path, whose sha256 is sha256hex, at loc, unless
// an object with that sha256 is already there (then Reused is true and no
// request but the HEAD was made). An object with a different sha256 is an
// ErrConflict naming both. The file is hashed before anything is sent, so
// a file that changed since it was built is refused rather than stored
// under a name that says otherwise.
func Upload(ctx context.Context, c *s3.Client, loc Location, path, sha256hex string, opts Options) (*Object, error) {
	if !isSHA256Hex(sha256hex) {
		return nil, fmt.Errorf("upload %s to %s: sha256 %q is not 64 lowercase hex digits", path, loc, sha256hex)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("upload %s to %s: %w", path, loc, err)
	}
	ex, err := Stat(ctx, c, loc)
	if err != nil {
		return nil, err
	}
	if ex != nil {
		return sameOrConflict(ctx, c, loc, ex, sha256hex)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("upload to %s: %w", loc, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("upload to %s: %w", loc, err)
	}
	return send(ctx, c, loc, &uploader{c: c, loc: loc, r: f, name: path, size: st.Size(), sha: sha256hex, opts: opts})
}

// UploadBytes is Upload for data in memory, such as a report.
func UploadBytes(ctx context.Context, c *s3.Client, loc Location, data []byte, opts Options) (*Object, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("upload to %s: %w", loc, err)
	}
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	ex, err := Stat(ctx, c, loc)
	if err != nil {
		return nil, err
	}
	if ex != nil {
		return sameOrConflict(ctx, c, loc, ex, sha)
	}
	return send(ctx, c, loc, &uploader{c: c, loc: loc, r: bytes.NewReader(data), name: loc.Key, size: int64(len(data)), sha: sha, opts: opts})
}

// send writes a new object, in one PUT or in parts, and settles a lost
// race by what the winner wrote.
func send(ctx context.Context, c *s3.Client, loc Location, u *uploader) (*Object, error) {
	var err error
	sha256hex := u.sha
	if u.size >= u.opts.MultipartThreshold {
		err = u.multipart(ctx)
	} else {
		err = u.single(ctx)
	}
	if errors.Is(err, errLostRace) {
		// Another upload wrote the key between our HEAD and our write;
		// what it wrote decides whether this one is done or refused.
		ex, err := Stat(ctx, c, loc)
		if err != nil {
			return nil, err
		}
		if ex == nil {
			return nil, fmt.Errorf("upload %s: S3 refused the write as the key exists, but HEAD finds no object there", loc)
		}
		return sameOrConflict(ctx, c, loc, ex, sha256hex)
	}
	if err != nil {
		return nil, err
	}
	return &Object{Bucket: loc.Bucket, Key: loc.Key}, nil
}

// sameOrConflict compares an existing object's sha256 with want.
func sameOrConflict(ctx context.Context, c *s3.Client, loc Location, ex *Existing, want string) (*Object, error) {
	got := ex.SHA256
	if got == "" {
		// Written by another tool without a checksum: only its bytes can
		// say what it is.
		h, err := hashObject(ctx, c, loc)
		if err != nil {
			return nil, err
		}
		got = h
	}
	if got != want {
		return nil, &ConflictError{Loc: loc, Existing: got, Want: want}
	}
	return &Object{Bucket: loc.Bucket, Key: loc.Key, Reused: true}, nil
}

// ConflictError is returned when a different object is already stored
// under the key. It matches ErrConflict with errors.Is.
type ConflictError struct {
	Loc      Location
	Existing string // the stored object's sha256
	Want     string // the artifact's sha256
}

// Error names both sha256s and why lambdapack will not overwrite.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s already holds a different object (sha256 %s); this artifact's sha256 is %s. "+
		"lambdapack never overwrites an object: the key should name its content, so either the build is not "+
		"reproducible or the key is reused for different content; delete the object deliberately or choose another key",
		e.Loc, e.Existing, e.Want)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ErrConflict matches a ConflictError.
var ErrConflict = errors.New("a different object is stored under the key")

// errLostRace means S3 refused a write because the key came to exist
// after the HEAD (If-None-Match failed).
var errLostRace = errors.New("the key was written by someone else during the upload")

// Existing is what S3 says about a stored object.
type Existing struct {
	// SHA256 is the object's sha256 in hex: from its MetaSHA256 metadata
	// or S3's whole-object checksum; "" when it has neither.
	SHA256   string
	Size     int64
	ETag     string
	Metadata map[string]string
}

// Stat HEADs loc, returning nil and no error when there is no object. An
// object whose metadata and checksum disagree is an error: it cannot be
// trusted either way.
func Stat(ctx context.Context, c *s3.Client, loc Location) (*Existing, error) {
	out, err := c.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket:       aws.String(loc.Bucket),
		Key:          aws.String(loc.Key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, classify(c, "HEAD", loc, err)
	}
	ex := &Existing{
		Size:     aws.ToInt64(out.ContentLength),
		ETag:     aws.ToString(out.ETag),
		Metadata: out.Metadata,
	}
	meta := strings.ToLower(out.Metadata[MetaSHA256])
	if meta != "" && !isSHA256Hex(meta) {
		return nil, fmt.Errorf("%s: its %s metadata %q is not a sha256; refusing to trust or overwrite it", loc, MetaSHA256, meta)
	}
	sum := wholeObjectSHA256(out)
	if meta != "" && sum != "" && meta != sum {
		return nil, fmt.Errorf("%s: its %s metadata says %s but S3's checksum is %s; refusing to trust or overwrite it", loc, MetaSHA256, meta, sum)
	}
	ex.SHA256 = meta
	if ex.SHA256 == "" {
		ex.SHA256 = sum
	}
	return ex, nil
}

// wholeObjectSHA256 returns S3's sha256 checksum of the whole object in
// hex, or "" when it has none or only a checksum of its parts' checksums
// (a multipart object: S3 marks it COMPOSITE or with a "-N" suffix, and
// its ETag ends in "-N").
func wholeObjectSHA256(out *s3.HeadObjectOutput) string {
	b64 := aws.ToString(out.ChecksumSHA256)
	if b64 == "" || out.ChecksumType == types.ChecksumTypeComposite || strings.Contains(b64, "-") ||
		strings.Contains(aws.ToString(out.ETag), "-") {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != sha256.Size {
		return ""
	}
	return hex.EncodeToString(raw)
}

// hashObject reads an object and returns its sha256.
func hashObject(ctx context.Context, c *s3.Client, loc Location) (string, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key)})
	if err != nil {
		return "", classify(c, "GET", loc, err)
	}
	defer out.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, out.Body); err != nil {
		return "", fmt.Errorf("read %s to compare its sha256: %w", loc, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// uploader sends one file.
type uploader struct {
	c    *s3.Client
	loc  Location
	r    io.ReaderAt
	name string // the file's path, for messages
	size int64
	sha  string
	opts Options
}

func (u *uploader) metadata() map[string]string {
	m := map[string]string{MetaSHA256: u.sha}
	for k, v := range u.opts.Metadata {
		m[k] = v
	}
	return m
}

// single sends the file in one PUT: S3 stores it whole or not at all.
func (u *uploader) single(ctx context.Context) error {
	sum, _, err := hashFile(u.r, u.size, 0)
	if err != nil {
		return fmt.Errorf("upload %s: %w", u.name, err)
	}
	if hex.EncodeToString(sum) != u.sha {
		return u.changed(sum)
	}
	prog := newProgress(u.opts.Progress, u.loc, u.size, 1)
	defer prog.finish()
	_, err = u.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:            aws.String(u.loc.Bucket),
		Key:               aws.String(u.loc.Key),
		Body:              io.NewSectionReader(u.r, 0, u.size),
		ContentLength:     aws.Int64(u.size),
		ContentType:       aws.String(u.opts.ContentType),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(base64.StdEncoding.EncodeToString(sum)),
		Metadata:          u.metadata(),
		IfNoneMatch:       aws.String("*"),
	})
	if err != nil {
		if isPreconditionFailed(err) {
			return errLostRace
		}
		return classify(u.c, "PUT", u.loc, err)
	}
	prog.partDone(u.size)
	return nil
}

func (u *uploader) changed(sum []byte) error {
	return fmt.Errorf("upload %s to %s: the file's sha256 is %s, not %s as its build reported: it changed after it was built; nothing was uploaded",
		u.name, u.loc, hex.EncodeToString(sum), u.sha)
}

// multipart sends the file in parts, each with its own sha256 checksum,
// and completes the upload only when every part is stored; on any failure
// or cancel the upload is aborted so S3 discards the parts and no object
// appears.
func (u *uploader) multipart(ctx context.Context) (err error) {
	partSize := u.opts.PartSize
	n := int((u.size + partSize - 1) / partSize)
	if n == 0 {
		n = 1 // an empty file still needs one (empty) part
	}
	if n > maxParts {
		return fmt.Errorf("upload %s: %d bytes in %d-byte parts is %d parts, S3 allows %d: use a larger part size", u.name, u.size, partSize, n, maxParts)
	}
	whole, parts, err := hashFile(u.r, u.size, partSize)
	if err != nil {
		return fmt.Errorf("upload %s: %w", u.name, err)
	}
	if hex.EncodeToString(whole) != u.sha {
		return u.changed(whole)
	}
	if len(parts) == 0 {
		parts = [][]byte{sha256.New().Sum(nil)}
	}
	created, err := u.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(u.loc.Bucket),
		Key:               aws.String(u.loc.Key),
		ContentType:       aws.String(u.opts.ContentType),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		Metadata:          u.metadata(),
	})
	if err != nil {
		return classify(u.c, "create multipart upload of", u.loc, err)
	}
	uploadID := created.UploadId
	completed := false
	defer func() {
		if completed {
			return
		}
		// The caller's context may be what failed; the abort must still
		// reach S3, or the parts linger (and are billed) invisibly.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		_, aerr := u.c.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(u.loc.Bucket), Key: aws.String(u.loc.Key), UploadId: uploadID,
		})
		if aerr != nil {
			err = fmt.Errorf("%w; and aborting the multipart upload %s failed, so its parts remain until a lifecycle rule removes them: %v",
				err, aws.ToString(uploadID), aerr)
		}
	}()

	prog := newProgress(u.opts.Progress, u.loc, u.size, n)
	defer prog.finish()
	done := make([]types.CompletedPart, n)
	var mu sync.Mutex
	stored := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(u.opts.Concurrency)
	for i := range n {
		off := int64(i) * partSize
		size := min(partSize, u.size-off)
		sum := base64.StdEncoding.EncodeToString(parts[i])
		g.Go(func() error {
			out, err := u.c.UploadPart(gctx, &s3.UploadPartInput{
				Bucket:            aws.String(u.loc.Bucket),
				Key:               aws.String(u.loc.Key),
				UploadId:          uploadID,
				PartNumber:        aws.Int32(int32(i + 1)),
				Body:              io.NewSectionReader(u.r, off, size),
				ContentLength:     aws.Int64(size),
				ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
				ChecksumSHA256:    aws.String(sum),
			})
			if err != nil {
				return classify(u.c, fmt.Sprintf("upload part %d/%d of", i+1, n), u.loc, err)
			}
			done[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag, ChecksumSHA256: aws.String(sum)}
			mu.Lock()
			stored++
			s := stored
			mu.Unlock()
			prog.partDone(size)
			if u.opts.OnPart != nil {
				u.opts.OnPart(s, n)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("upload %s: %w", u.loc, err)
	}
	_, err = u.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(u.loc.Bucket),
		Key:             aws.String(u.loc.Key),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
		IfNoneMatch:     aws.String("*"),
	})
	if err != nil {
		if isPreconditionFailed(err) {
			return errLostRace
		}
		return classify(u.c, "complete multipart upload of", u.loc, err)
	}
	completed = true
	return nil
}

// hashFile reads f's first size bytes once and returns their sha256 and,
// when partSize > 0, the sha256 of each partSize-byte part.
func hashFile(f io.ReaderAt, size, partSize int64) (whole []byte, parts [][]byte, err error) {
	h := sha256.New()
	r := io.NewSectionReader(f, 0, size)
	if partSize <= 0 {
		if _, err := io.Copy(h, r); err != nil {
			return nil, nil, err
		}
		return h.Sum(nil), nil, nil
	}
	for off := int64(0); off < size; off += partSize {
		ph := sha256.New()
		if _, err := io.Copy(io.MultiWriter(h, ph), io.NewSectionReader(r, off, min(partSize, size-off))); err != nil {
			return nil, nil, err
		}
		parts = append(parts, ph.Sum(nil))
	}
	return h.Sum(nil), parts, nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

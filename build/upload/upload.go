// Package upload puts a built artifact into S3 under a content-addressed
// key, the way a deploy can rely on: HEAD first, so an object already
// there with the same bytes is reused and nothing is sent; any other
// object is an error, never overwritten. That the bytes are the same is
// shown by S3, never by the object's metadata: S3's sha256 checksum of
// the whole object, its composite checksum of a multipart object
// recomputed from the local file, or the bytes read back and hashed (see
// proof.go); the sizes must match too. A new object carries its sha256 as
// an S3 checksum (verified by S3 on receipt) and in its metadata, is
// written with If-None-Match so two racing uploads cannot overwrite each
// other, and only becomes visible once complete (one PUT, or a multipart
// upload that is aborted on any failure or cancel).
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

	"github.com/galerly/galerly-lambda/build/internal/clip"
)

// Object is where an artifact is in S3; its JSON form is the "s3" member
// of lambdapack's report.
type Object struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// Reused is true when the object was already there with the same
	// bytes (shown by S3, see proof.go), so nothing was sent.
	Reused bool `json:"reused"`
	// BuildSkipped is true when the object and the report stored with it
	// matched the artifact's key before building, so nothing was built
	// either (see Find).
	BuildSkipped bool `json:"buildSkipped,omitempty"`
	// CopiedFrom is the object this one was copied from inside S3
	// (s3://BUCKET/KEY), when Copy wrote it; "" otherwise.
	CopiedFrom string `json:"copiedFrom,omitempty"`
}

// MetaSHA256 is the user-metadata entry (x-amz-meta-sha256) holding a new
// object's sha256 in hex, for people and other tools (S3's own checksum of
// a multipart object is a checksum of its parts' checksums). lambdapack
// never trusts it: whoever can write the bucket can write it. An object
// whose metadata contradicts S3's checksum is refused outright.
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
	// It is never compared: only the bytes say whether an object is the
	// same.
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
// an object with the same bytes is already there (then Reused is true and
// nothing is written; proving it takes the HEAD, and a HEAD of its first
// part or a read of the object when S3 has no whole-object checksum). Any
// other object is an ErrConflict naming both. The file is hashed before
// anything is sent, so a file that changed since it was built is refused
// rather than stored under a name that says otherwise.
func Upload(ctx context.Context, c *s3.Client, loc Location, path, sha256hex string, opts Options) (*Object, error) {
	if !isSHA256Hex(sha256hex) {
		return nil, fmt.Errorf("upload %s to %s: sha256 %q is not 64 lowercase hex digits", path, loc, sha256hex)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("upload %s to %s: %w", path, loc, err)
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
	want := &local{r: f, size: st.Size(), sha256: sha256hex}
	ex, err := Stat(ctx, c, loc)
	if err != nil {
		return nil, err
	}
	if ex != nil {
		return sameOrConflict(ctx, c, loc, ex, want)
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
		return sameOrConflict(ctx, c, loc, ex, &local{r: bytes.NewReader(data), size: int64(len(data)), sha256: sha})
	}
	return send(ctx, c, loc, &uploader{c: c, loc: loc, r: bytes.NewReader(data), name: loc.Key, size: int64(len(data)), sha: sha, opts: opts})
}

// send writes a new object, in one PUT or in parts, and settles a lost
// race by what the winner wrote.
func send(ctx context.Context, c *s3.Client, loc Location, u *uploader) (*Object, error) {
	var err error
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
		return sameOrConflict(ctx, c, loc, ex, &local{r: u.r, size: u.size, sha256: u.sha})
	}
	if err != nil {
		return nil, err
	}
	return &Object{Bucket: loc.Bucket, Key: loc.Key}, nil
}

// sameOrConflict decides whether the existing object ex is the artifact
// want: the same size, and a sha256 S3 shows (see prove) equal to want's.
// Anything else is a *ConflictError.
func sameOrConflict(ctx context.Context, c *s3.Client, loc Location, ex *Existing, want *local) (*Object, error) {
	conflict := &ConflictError{Loc: loc, ExistingSize: ex.Size, Claimed: ex.Claimed, Want: want.sha256, WantSize: want.size}
	if ex.Size != want.size {
		// Different sizes are different bytes; S3's checksum, when it has
		// one, names them.
		conflict.Existing = ex.Checksum
		return nil, conflict
	}
	p, err := prove(ctx, c, loc, ex, want)
	if err != nil {
		return nil, err
	}
	if p.sha256 != want.sha256 {
		conflict.Existing, conflict.How = p.sha256, p.how
		return nil, conflict
	}
	return &Object{Bucket: loc.Bucket, Key: loc.Key, Reused: true}, nil
}

// ConflictError is returned when a different object is already stored
// under the key. It matches ErrConflict with errors.Is.
type ConflictError struct {
	Loc          Location
	Existing     string // the stored object's sha256, "" when not known (its size differs and S3 keeps no checksum)
	How          string // what showed Existing, for the message
	ExistingSize int64
	// Claimed is the sha256 the stored object's metadata claims, "" if
	// none; shown when its bytes belie it.
	Claimed  string
	Want     string // the artifact's sha256
	WantSize int64
}

// Error names both objects and why lambdapack will not overwrite.
func (e *ConflictError) Error() string {
	var held string
	switch {
	case e.Existing != "" && e.How != "":
		held = fmt.Sprintf("sha256 %s by %s, %d bytes", e.Existing, e.How, e.ExistingSize)
	case e.Existing != "":
		held = fmt.Sprintf("sha256 %s, %d bytes", e.Existing, e.ExistingSize)
	default:
		held = fmt.Sprintf("%d bytes", e.ExistingSize)
	}
	msg := fmt.Sprintf("%s already holds a different object (%s); this artifact's sha256 is %s (%d bytes). ", e.Loc, held, e.Want, e.WantSize)
	if e.Claimed != "" && e.Claimed != e.Existing {
		msg += fmt.Sprintf("Its metadata claims sha256 %s, which its bytes do not have: someone wrote it by hand or forged it. ", e.Claimed)
	}
	return msg + "lambdapack never overwrites an object: the key should name its content, so either the build is not " +
		"reproducible or the key is reused for different content; delete the object deliberately or choose another key"
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ErrConflict matches a ConflictError.
var ErrConflict = errors.New("a different object is stored under the key")

// errLostRace means S3 refused a write because the key came to exist
// after the HEAD (If-None-Match failed).
var errLostRace = errors.New("the key was written by someone else during the upload")

// Existing is what a HEAD says about a stored object. Nothing in it is
// proof of its bytes but Checksum, and Composite recomputed from them.
type Existing struct {
	Size     int64
	ETag     string
	Metadata map[string]string
	// Checksum is S3's sha256 checksum of the whole object, hex, or ""
	// when S3 keeps none (an object written without one, or in parts).
	Checksum string
	// Composite is S3's checksum of a multipart object's parts' sha256s,
	// base64 without its "-N" suffix, and Parts the part count when known;
	// "" and 0 for an object written whole.
	Composite string
	Parts     int
	// Claimed is the sha256 the object's metadata (MetaSHA256) claims,
	// hex, or "". It is shown in messages, never trusted.
	Claimed string
}

// Stat HEADs loc with checksum mode on, returning nil and no error when
// there is no object. An object whose metadata is not a sha256, or
// contradicts S3's checksum, is an error: it was written by hand or
// tampered with, and is neither trusted nor overwritten.
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
		return nil, fmt.Errorf("%s: its %s metadata %s is not a sha256; refusing to trust or overwrite it", loc, MetaSHA256, clip.Quote(meta))
	}
	ex.Claimed = meta
	b64 := aws.ToString(out.ChecksumSHA256)
	switch {
	case b64 == "":
	case out.ChecksumType == types.ChecksumTypeComposite || strings.Contains(b64, "-") || strings.Contains(ex.ETag, "-"):
		// A multipart object: moto leaves the "-N" off a HEAD's value and
		// names no type, but its ETag still ends in "-N".
		ex.Composite, ex.Parts = splitComposite(b64, ex.ETag)
	default:
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("%s: S3 gives a sha256 checksum %s that is not one; refusing to trust or overwrite it", loc, clip.Quote(b64))
		}
		ex.Checksum = hex.EncodeToString(raw)
	}
	if meta != "" && ex.Checksum != "" && meta != ex.Checksum {
		return nil, fmt.Errorf("%s: its %s metadata says %s but S3's checksum is %s; refusing to trust or overwrite it", loc, MetaSHA256, meta, ex.Checksum)
	}
	return ex, nil
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

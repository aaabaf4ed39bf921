package upload

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressQuietWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, Location{Bucket: "b", Key: "k"}, 100, 3)
	p.partDone(50)
	p.finish()
	if buf.Len() != 0 {
		t.Errorf("progress wrote %q to a buffer", buf.String())
	}
}

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := startProgress(&buf, Location{Bucket: "b", Key: "layers/k.zip"}, 40_000_000, 3)
	p.partDone(16_000_000)
	p.finish()
	lines := strings.Split(buf.String(), "\r")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "uploading s3://b/layers/k.zip: 1/3 parts, 16.0 MB/40.0 MB") || !strings.HasSuffix(last, "\n") {
		t.Errorf("last redraw %q, want 1/3 parts, 16.0 MB/40.0 MB and a newline", last)
	}

	buf.Reset()
	p = startProgress(&buf, Location{Bucket: "b", Key: "k"}, 1_500_000, 1)
	p.partDone(1_500_000)
	p.finish()
	if !strings.Contains(buf.String(), "\ruploading s3://b/k (1.5 MB) done") {
		t.Errorf("single-part progress %q", buf.String())
	}
}

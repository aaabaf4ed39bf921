package testenv

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
)

func TestLocateMotoIsTheRealExecutable(t *testing.T) {
	p, err := LocateMoto()
	if err != nil {
		SkipOrFail(t, "%v", err)
	}
	if strings.Contains(p, "/shims/") {
		t.Errorf("LocateMoto() = %s, a pyenv shim", p)
	}
}

// A started server answers S3 on its endpoint, and once the test that
// started it ends, the process is gone and the port refuses connections.
func TestStartMotoAnswersAndStops(t *testing.T) {
	var m *Moto
	var pid int
	t.Run("use", func(t *testing.T) {
		m = StartMoto(t)
		if !strings.HasPrefix(m.Endpoint, "http://127.0.0.1:") {
			t.Fatalf("Endpoint = %q, want http://127.0.0.1:PORT", m.Endpoint)
		}
		pid = m.cmd.Process.Pid
		// An anonymous ListBuckets: moto answers it with XML, which
		// proves the S3 backend is up, not just the HTTP server.
		resp, err := http.Get(m.Endpoint + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "ListAllMyBucketsResult") {
			t.Errorf("GET / = %s %q, want an S3 ListAllMyBucketsResult", resp.Status, body)
		}
		if err := m.Reset(); err != nil {
			t.Error(err)
		}
	})
	if m == nil || pid == 0 {
		return // skipped: no moto_server
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("moto_server (pid %d) still exists after its test ended: kill(0) = %v", pid, err)
	}
	if resp, err := http.Get(m.Endpoint + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("%s still answers after its test ended", m.Endpoint)
	}
}

// Two servers started together get two ports and do not share state.
func TestStartMotoTwiceIsolated(t *testing.T) {
	a, b := StartMoto(t), StartMoto(t)
	if a.Endpoint == b.Endpoint {
		t.Fatalf("two servers on one endpoint %s", a.Endpoint)
	}
	req, _ := http.NewRequest(http.MethodPut, a.Endpoint+"/only-in-a", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create bucket on a: %s", resp.Status)
	}
	for _, c := range []struct {
		m    *Moto
		want bool
	}{{a, true}, {b, false}} {
		resp, err := http.Get(c.m.Endpoint + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := strings.Contains(string(body), "<Name>only-in-a</Name>"); got != c.want {
			t.Errorf("%s lists bucket only-in-a: %v, want %v", c.m.Endpoint, got, c.want)
		}
	}
}

func TestEnvPointsEverythingAtTheEndpoint(t *testing.T) {
	env := EndpointEnv("http://127.0.0.1:1")
	got := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("entry %q is not KEY=VALUE", kv)
		}
		got[k] = v
	}
	want := map[string]string{
		"AWS_ENDPOINT_URL":            "http://127.0.0.1:1",
		"AWS_ENDPOINT_URL_S3":         "",
		"AWS_REGION":                  MotoRegion,
		"AWS_ACCESS_KEY_ID":           "testing",
		"AWS_PROFILE":                 "",
		"AWS_SESSION_TOKEN":           "",
		"AWS_CONFIG_FILE":             "/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %q (set: %v), want %q", k, g, ok, v)
		}
	}
}

// The recorder passes requests on unchanged and records each.
func TestRecordRequests(t *testing.T) {
	m := StartMoto(t)
	rec := RecordRequests(t, m.Endpoint)
	req, _ := http.NewRequest(http.MethodPut, rec.Endpoint+"/via-proxy", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(m.Endpoint + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "<Name>via-proxy</Name>") {
		t.Errorf("bucket created through the recorder is not on the server: %s", body)
	}
	got := rec.Requests()
	if len(got) != 1 || got[0].Method != http.MethodPut || got[0].Path != "/via-proxy" {
		t.Errorf("recorded %+v, want one PUT /via-proxy", got)
	}
	if rec.Count(http.MethodPut) != 1 || rec.Count(http.MethodGet) != 0 {
		t.Errorf("Count(PUT)=%d Count(GET)=%d, want 1 and 0", rec.Count(http.MethodPut), rec.Count(http.MethodGet))
	}
}

package build

import (
	"strings"
	"testing"

	"github.com/galerly/galerly-lambda/build/lock"
	"github.com/galerly/galerly-lambda/build/target"
)

// checkRecord accepts only a resolution the lock itself could produce for
// the target: each way a planted or stale record can differ is refused.
func TestCheckRecord(t *testing.T) {
	sum := func(c byte) string { return strings.Repeat(string(c), 64) }
	l, err := lock.Parse("layer.txt", []byte(
		"numpy==2.1.3 --hash=sha256:"+sum('a')+" --hash=sha256:"+sum('b')+" --hash=sha256:"+sum('c')+"\n"+
			"tomli==2.0.1 ; python_version < \"3.12\" --hash=sha256:"+sum('d')+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := target.New([]string{"python3.11", "python3.12"}, "x86_64")
	np311 := placement{Name: "numpy", Version: "2.1.3", Wheel: "numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", SHA256: sum('a'), Path: "python/lib/python3.11/site-packages/"}
	np312 := placement{Name: "numpy", Version: "2.1.3", Wheel: "numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", SHA256: sum('b'), Path: "python/lib/python3.12/site-packages/"}
	tomli := placement{Name: "tomli", Version: "2.0.1", Wheel: "tomli-2.0.1-py3-none-any.whl", SHA256: sum('d'), Path: "python/lib/python3.11/site-packages/"}
	with := func(p placement, edit func(*placement)) placement { edit(&p); return p }
	tests := []struct {
		name   string
		placed []placement
		want   string
	}{
		{"what the lock gives", []placement{np311, np312, tomli}, ""},
		{"a sha256 the lock does not name", []placement{with(np311, func(p *placement) { p.SHA256 = sum('e') }), np312, tomli}, "which the lock does not name"},
		{"another package's sha256", []placement{np311, np312, with(tomli, func(p *placement) { p.SHA256 = sum('a') })}, "which the lock does not name"},
		{"another version", []placement{with(np311, func(p *placement) { p.Version = "2.1.2" }), np312, tomli}, "the lock pins 2.1.3"},
		{"a package the lock does not pin", []placement{np311, np312, tomli, {Name: "evil", Version: "1.0", Wheel: "evil-1.0-py3-none-any.whl", SHA256: sum('f'), Path: "python/"}}, "which the lock does not pin"},
		{"a wheel named for another package", []placement{with(np311, func(p *placement) { p.Wheel = "evil-2.1.3-cp311-cp311-manylinux2014_x86_64.whl" }), np312, tomli}, "it places evil-2.1.3"},
		{"a wheel for the wrong runtime", []placement{with(np311, func(p *placement) { p.Wheel, p.SHA256 = np312.Wheel, np312.SHA256 }), np312, tomli}, "which it does not fit"},
		{"a macOS wheel the lock also names", []placement{with(np311, func(p *placement) {
			p.Wheel, p.SHA256 = "numpy-2.1.3-cp311-cp311-macosx_14_0_arm64.whl", sum('c')
		}), np312, tomli}, "which it does not fit"},
		{"a package missing for one runtime", []placement{np311, tomli}, "no wheel of numpy for python3.12"},
		{"a package placed twice", []placement{np311, np312, tomli, tomli}, "twice"},
		{"a per-runtime package in the shared folder", []placement{np311, np312, with(tomli, func(p *placement) { p.Path = "python/" })}, "applies only to python3.11"},
		{"a folder no runtime reads", []placement{np311, np312, with(tomli, func(p *placement) { p.Path = "python/lib/python3.12/site-packages/" })}, "which no runtime"},
		{"a folder outside the layout", []placement{np311, np312, with(tomli, func(p *placement) { p.Path = "../" })}, "which no runtime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkRecord(tt.placed, l, tg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("checkRecord: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("checkRecord = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

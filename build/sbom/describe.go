package sbom

import (
	"encoding/json"
	"fmt"
)

// Summary is what Describe reads back from an SBOM this package wrote:
// enough to say which artifact it describes.
type Summary struct {
	SpecVersion string
	Kind, Name  string
	Key         string
	SHA256      string // of the artifact's zip
	Wheels      int
	Libraries   int    // vendored shared libraries, over all wheels
	Licenses    string // the artifact's license summary
}

// Describe reads the artifact an SBOM describes. A document that is not
// CycloneDX, or names no artifact with a sha256, is an error.
func Describe(doc []byte) (Summary, error) {
	type props []struct{ Name, Value string }
	var v struct {
		BOMFormat   string `json:"bomFormat"`
		SpecVersion string `json:"specVersion"`
		Metadata    struct {
			Component struct {
				Name       string
				Hashes     []struct{ Alg, Content string }
				Properties props
			}
		}
		Components []struct {
			BOMRef     string `json:"bom-ref"`
			Components []json.RawMessage
		}
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		return Summary{}, fmt.Errorf("not JSON: %w", err)
	}
	if v.BOMFormat != "CycloneDX" {
		return Summary{}, fmt.Errorf("not a CycloneDX document (bomFormat %q)", v.BOMFormat)
	}
	c := v.Metadata.Component
	s := Summary{SpecVersion: v.SpecVersion, Name: c.Name}
	for _, h := range c.Hashes {
		if h.Alg == "SHA-256" {
			s.SHA256 = h.Content
		}
	}
	for _, p := range c.Properties {
		switch p.Name {
		case PropKind:
			s.Kind = p.Value
		case PropKey:
			s.Key = p.Value
		case PropLicenses:
			s.Licenses = p.Value
		}
	}
	if s.SHA256 == "" {
		return Summary{}, fmt.Errorf("its metadata.component has no SHA-256 hash: not an SBOM of a lambdapack artifact")
	}
	for _, comp := range v.Components {
		if len(comp.BOMRef) > len("wheel:") && comp.BOMRef[:len("wheel:")] == "wheel:" {
			s.Wheels++
			s.Libraries += len(comp.Components)
		}
	}
	return s, nil
}

package lock

import (
	"regexp"
	"strings"
)

// requirementsAsPylock explains a pylock.toml that holds requirements
// text: what `uv export -o pylock.toml` writes without --format.
const requirementsAsPylock = "this file holds pip requirements text (NAME==VERSION --hash=... lines), not a PEP 751 lock: " +
	"write a real pylock with `uv export --format pylock.toml -o pylock.toml` (from a uv project) or " +
	"`uv pip compile --format pylock.toml -o pylock.toml requirements.in`, " +
	"or keep this text under a .txt name, which lambdapack reads as a requirements lock"

// requirementsLine matches the start of a pinned requirement line, which
// is not TOML: "numpy==2.1.3", "Pillow[avif] == 11.0.0".
var requirementsLine = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*(==|===|~=|>=|<=|!=)`)

// requirementsText reports whether data, which is not TOML, reads as a pip
// requirements file, and the line of its first requirement or option.
func requirementsText(data []byte) (line int, ok bool) {
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if requirementsLine.MatchString(l) || strings.HasPrefix(l, "--hash=sha256:") {
			return i + 1, true
		}
	}
	return 0, false
}

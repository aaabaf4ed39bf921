package lock

import (
	"fmt"
	"iter"
	"maps"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"
)

// The accessors below read one key of a decoded TOML table (where is the
// table's key path) and refuse a value of the wrong type with the line and
// key path, so a hand-edited lock gets a message, never a panic. A missing
// key is not an error: ok says whether it was there.

func (p *pylockParser) str(t map[string]any, where, key string) (s string, ok bool, err error) {
	v, ok := t[key]
	if !ok {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, p.fail(join(where, key), "want a string, found %s", typeName(v))
	}
	return s, true, nil
}

func (p *pylockParser) integer(t map[string]any, where, key string) (n int64, ok bool, err error) {
	v, ok := t[key]
	if !ok {
		return 0, false, nil
	}
	n, isInt := v.(int64)
	if !isInt {
		return 0, false, p.fail(join(where, key), "want an integer, found %s", typeName(v))
	}
	return n, true, nil
}

func (p *pylockParser) strList(t map[string]any, where, key string) (list []string, ok bool, err error) {
	v, ok := t[key]
	if !ok {
		return nil, false, nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, false, p.fail(join(where, key), "want an array of strings, found %s", typeName(v))
	}
	for i, el := range arr {
		s, isStr := el.(string)
		if !isStr {
			return nil, false, p.fail(fmt.Sprintf("%s[%d]", join(where, key), i), "want a string, found %s", typeName(el))
		}
		list = append(list, s)
	}
	return list, true, nil
}

func (p *pylockParser) table(t map[string]any, where, key string) (tbl map[string]any, ok bool, err error) {
	v, ok := t[key]
	if !ok {
		return nil, false, nil
	}
	tbl, isTable := v.(map[string]any)
	if !isTable {
		return nil, false, p.fail(join(where, key), "want a table, found %s", typeName(v))
	}
	return tbl, true, nil
}

// tables reads an array of tables; required makes a missing key an error.
func (p *pylockParser) tables(t map[string]any, where, key string, required bool) (list []map[string]any, ok bool, err error) {
	v, ok := t[key]
	if !ok {
		if required {
			return nil, false, p.fail(join(where, key), "missing: a pylock.toml lists its packages as [[packages]] tables (PEP 751)")
		}
		return nil, false, nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, false, p.fail(join(where, key), "want an array of tables, found %s", typeName(v))
	}
	for i, el := range arr {
		tbl, isTable := el.(map[string]any)
		if !isTable {
			return nil, false, p.fail(fmt.Sprintf("%s[%d]", join(where, key), i), "want a table, found %s", typeName(el))
		}
		list = append(list, tbl)
	}
	return list, true, nil
}

// typeName names the TOML type of a decoded value for messages.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time, toml.LocalDate, toml.LocalTime, toml.LocalDateTime:
		return "a date or time"
	}
	return fmt.Sprintf("a %T", v)
}

func mapKeys(m map[string]any) iter.Seq[string] { return maps.Keys(m) }

// requiresPythonMarker turns a Requires-Python specifier set (">=3.9,<4")
// into the marker python_full_version >= "3.9" and python_full_version <
// "4", so it is evaluated for a Lambda runtime exactly as markers are
// (with the runtime's patch release unknown).
func requiresPythonMarker(spec string) (*Marker, error) {
	var clauses []string
	for _, c := range strings.Split(spec, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		op := ""
		for _, o := range []string{"===", "==", "!=", "~=", "<=", ">=", "<", ">"} {
			if strings.HasPrefix(c, o) {
				op = o
				break
			}
		}
		v := strings.TrimSpace(strings.TrimPrefix(c, op))
		switch {
		case op == "":
			return nil, clippedErrorf("%q: %q is not a comparison such as >=3.9", spec, c)
		case op == "===":
			return nil, clippedErrorf("%q: arbitrary equality (===) is not supported", spec)
		case v == "" || strings.ContainsAny(v, `"' `):
			return nil, clippedErrorf("%q: %q is not a version", spec, v)
		}
		clauses = append(clauses, "python_full_version "+op+` "`+v+`"`)
	}
	if len(clauses) == 0 {
		return nil, clippedErrorf("%q: no version comparison", spec)
	}
	m, err := parseMarker(strings.Join(clauses, " and "), false)
	if err != nil {
		return nil, clippedErrorf("%q: %w", spec, err)
	}
	return m, nil
}

package lock

import (
	"slices"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// tomlLines maps the key paths of a TOML document to the 1-based line each
// is written on, so a problem found in the decoded values can be reported
// as FILE:LINE. Paths are written the way messages show them: dotted keys,
// with a 0-based index for each array element ("packages[3].wheels[1].hashes").
type tomlLines map[string]int

// indexLines walks the syntax tree of data, which must already have
// decoded without error. It never fails: a path it could not place is
// simply absent, and line falls back to an enclosing one.
func indexLines(data []byte) tomlLines {
	w := &lineWalker{lines: tomlLines{}, next: map[string]int{}}
	w.p.Reset(data)
	w.size = len(data)
	for i, c := range data {
		if c == '\n' {
			w.newlines = append(w.newlines, i)
		}
	}
	table := ""
	for w.p.NextExpression() {
		n := w.p.Expression()
		switch n.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = w.header(n)
		case unstable.KeyValue:
			w.keyValue(table, n)
		}
	}
	return w.lines
}

// line returns the line of path or, when path itself was not placed, of
// its nearest enclosing key; 1 when nothing encloses it.
func (l tomlLines) line(path string) int {
	for path != "" {
		if n, ok := l[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 1
}

type lineWalker struct {
	p     unstable.Parser
	size  int
	lines tomlLines
	// newlines holds the offset of every '\n', so a line is found by
	// binary search (the parser's Shape scans from the start each time).
	newlines []int
	// next counts the elements of each array of tables seen so far, by the
	// array's path: the index the next [[header]] for it gets.
	next map[string]int
}

// lineOf returns the line a node starts on, or 0 when the parser gave it
// no position.
func (w *lineWalker) lineOf(n *unstable.Node) int {
	if n.Raw.Length == 0 || int(n.Raw.Offset)+int(n.Raw.Length) > w.size {
		return 0
	}
	before, _ := slices.BinarySearch(w.newlines, int(n.Raw.Offset))
	return before + 1
}

// record notes the line of path unless it is already known (the first
// mention of a table is where it starts).
func (w *lineWalker) record(path string, line int) {
	if _, ok := w.lines[path]; !ok && line > 0 {
		w.lines[path] = line
	}
}

// join appends a key to a path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// header handles [table] and [[array.of.tables]] and returns the path the
// key-values after it belong to. A segment naming an array of tables
// refers to its last element, as TOML defines.
func (w *lineWalker) header(n *unstable.Node) string {
	var keys []*unstable.Node
	it := n.Key()
	for it.Next() {
		keys = append(keys, it.Node())
	}
	path := ""
	for i, k := range keys {
		path = join(path, string(k.Data))
		last := i == len(keys)-1
		count, isArray := w.next[path]
		switch {
		case last && n.Kind == unstable.ArrayTable:
			w.record(path, w.lineOf(k))
			w.next[path] = count + 1
			path += "[" + strconv.Itoa(count) + "]"
		case isArray && count > 0:
			path += "[" + strconv.Itoa(count-1) + "]"
		}
		w.record(path, w.lineOf(k))
	}
	return path
}

// keyValue records a (possibly dotted) key and everything inside its
// value.
func (w *lineWalker) keyValue(table string, n *unstable.Node) {
	path := table
	it := n.Key()
	for it.Next() {
		k := it.Node()
		path = join(path, string(k.Data))
		w.record(path, w.lineOf(k))
	}
	w.value(path, n.Value())
}

// value records the elements of arrays and the keys of inline tables.
func (w *lineWalker) value(path string, v *unstable.Node) {
	switch v.Kind {
	case unstable.Array:
		i := 0
		it := v.Children()
		for it.Next() {
			el := it.Node()
			p := path + "[" + strconv.Itoa(i) + "]"
			w.record(p, w.lineOf(el))
			w.value(p, el)
			i++
		}
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if kv := it.Node(); kv.Kind == unstable.KeyValue {
				w.keyValue(path, kv)
			}
		}
	}
}

// Package wheeltest builds the things builder tests need and the test
// machines lack a network for: valid wheels (pure, with .data folders, or
// holding a real CPython extension compiled with gcc), PEP 691/503 simple
// indexes served on 127.0.0.1. The interpreters to import the results with
// come from internal/testenv.
//
// Helpers that need a tool the machine may lack (gcc, Python headers) skip
// the test with a message, or fail it under CI=true (testenv.SkipOrFail).
package wheeltest

import "sync"

// memo remembers the result of an expensive, pure computation per key, and
// runs it once even when parallel tests ask at the same time. It is the
// package's only shared state: values are never changed once computed.
type memo[V any] struct {
	mu sync.Mutex
	m  map[string]*memoEntry[V]
}

type memoEntry[V any] struct {
	once sync.Once
	v    V
	err  error
}

func (c *memo[V]) get(key string, f func() (V, error)) (V, error) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]*memoEntry[V])
	}
	e := c.m[key]
	if e == nil {
		e = &memoEntry[V]{}
		c.m[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.v, e.err = f() })
	return e.v, e.err
}

var (
	pyInfos    memo[pyInfo]
	extensions memo[[]byte]
)

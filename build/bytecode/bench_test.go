package bytecode

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkCompilePip compiles every module of pip's wheel (about 490)
// with one Compiler per interpreter, fed by 1, 2 or 4 goroutines, and
// reports modules per second. With one caller the process waits while Go
// canonicalizes a result and sends the next source; with two it never
// does. The "in-process" case is the ceiling: the interpreter compiling
// and marshalling the same modules in a loop of its own, timed by itself.
//
//	go test ./build/bytecode -run '^$' -bench CompilePip -benchtime 3x
func BenchmarkCompilePip(b *testing.B) {
	pip := pipSources(b)
	whl := pipWheel(b)
	for _, minor := range testMinors {
		b.Run(fmt.Sprintf("3.%d/in-process", minor), func(b *testing.B) {
			in := interpreter(b, minor)
			var seconds float64
			for range b.N {
				out := runPython(b, in, nil, inProcessScript, whl)
				s, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
				if err != nil {
					b.Fatal(err)
				}
				seconds += s
			}
			b.ReportMetric(float64(len(pip)*b.N)/seconds, "modules/s")
		})
		for _, callers := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("3.%d/callers=%d", minor, callers), func(b *testing.B) {
				in := interpreter(b, minor)
				c := startCompiler(b, in)
				var bytes atomic.Int64
				b.ResetTimer()
				for range b.N {
					var next atomic.Int64
					var wg sync.WaitGroup
					for range callers {
						wg.Go(func() {
							for {
								i := int(next.Add(1)) - 1
								if i >= len(pip) {
									return
								}
								pyc, _, err := c.Compile(pip[i].runPath, pip[i].data)
								if err != nil {
									b.Error(err)
									return
								}
								bytes.Add(int64(len(pyc)))
							}
						})
					}
					wg.Wait()
				}
				b.ReportMetric(float64(len(pip)*b.N)/b.Elapsed().Seconds(), "modules/s")
				b.ReportMetric(float64(bytes.Load())/float64(b.N)/1e6, "pycMB/op")
			})
		}
	}
}

// inProcessScript compiles and marshals every module of a wheel as the
// Compiler's process does, and prints the seconds that took.
const inProcessScript = `
import sys, zipfile, marshal, time
z = zipfile.ZipFile(sys.argv[1])
srcs = [(n, z.read(n)) for n in z.namelist() if n.endswith('.py')]
t = time.perf_counter()
for n, s in srcs:
    marshal.dumps(compile(s, '/opt/python/' + n, 'exec', dont_inherit=True, optimize=0))
print(time.perf_counter() - t)
`

// BenchmarkCanonicalize measures the Go side alone, on pip's modules as
// 3.12 marshals them.
func BenchmarkCanonicalize(b *testing.B) {
	in := interpreter(b, 12)
	pip := pipSources(b)
	c := startCompiler(b, in)
	var raw [][]byte
	var total int64
	c.onRaw = func(_ string, pyc []byte) {
		raw = append(raw, pyc[HeaderSize:])
		total += int64(len(pyc) - HeaderSize)
	}
	compileAll(b, c, pip, ascending(len(pip)))
	b.SetBytes(total)
	b.ResetTimer()
	for range b.N {
		for _, r := range raw {
			if _, err := Canonicalize(r, 12); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(raw)*b.N)/b.Elapsed().Seconds(), "modules/s")
}

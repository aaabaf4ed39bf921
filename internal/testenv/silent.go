package testenv

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// SilentServer listens on 127.0.0.1, accepts every connection and never
// answers on any, as a hung proxy, index or S3 endpoint does. It returns
// the server's base URL (http://127.0.0.1:PORT) and the count of
// connections accepted so far; the listener and the connections are
// closed when t ends.
func SilentServer(t testing.TB) (url string, accepted *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int32)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String(), accepted
}

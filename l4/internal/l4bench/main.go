// Command l4bench measures a layer-4 balancer (docs/BENCHMARKS.md,
// "Layer-4 balancer"): a sink backend, bulk senders, and idle flows held
// open for memory per tracked flow. Loopback only.
//
//	l4bench -sink 127.0.0.1:9501             # discard whatever arrives
//	l4bench -bulk ADDR -flows 8 -for 10s     # send as fast as possible, print Gbit/s
//	l4bench -hold ADDR -flows 10000 -for 30s # open idle flows, hold them
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	sink := flag.String("sink", "", "listen address of a discarding backend")
	bulk := flag.String("bulk", "", "address to send bulk data to")
	hold := flag.String("hold", "", "address to open idle flows to")
	flows := flag.Int("flows", 1, "concurrent flows")
	dur := flag.Duration("for", 10*time.Second, "how long to send or hold")
	flag.Parse()
	switch {
	case *sink != "":
		ln, err := net.Listen("tcp", *sink)
		if err != nil {
			fail(err)
		}
		for {
			c, err := ln.Accept()
			if err != nil {
				fail(err)
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	case *bulk != "":
		var total atomic.Int64
		var wg sync.WaitGroup
		buf := make([]byte, 256<<10)
		end := time.Now().Add(*dur)
		for range *flows {
			c, err := net.Dial("tcp", *bulk)
			if err != nil {
				fail(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				for time.Now().Before(end) {
					n, err := c.Write(buf)
					total.Add(int64(n))
					if err != nil {
						fail(err)
					}
				}
			}()
		}
		start := time.Now()
		wg.Wait()
		secs := time.Since(start).Seconds()
		fmt.Printf("flows=%d bytes=%d seconds=%.2f gbit_s=%.2f\n", *flows, total.Load(), secs, float64(total.Load())*8/secs/1e9)
	case *hold != "":
		var cs []net.Conn
		for i := range *flows {
			c, err := net.Dial("tcp", *hold)
			if err != nil {
				fail(fmt.Errorf("flow %d: %w", i, err))
			}
			cs = append(cs, c)
		}
		fmt.Printf("holding %d flows\n", len(cs))
		time.Sleep(*dur)
		for _, c := range cs {
			c.Close()
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "l4bench:", err)
	os.Exit(1)
}

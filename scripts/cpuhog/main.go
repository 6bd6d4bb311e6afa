// Command cpuhog keeps every CPU busy until it is killed or -for ends: the
// fallback load of `make test-stress` when stress-ng is not installed.
//
//	go run ./scripts/cpuhog -for 30m
package main

import (
	"flag"
	"runtime"
	"time"
)

func main() {
	d := flag.Duration("for", time.Hour, "stop after this long")
	flag.Parse()
	for range runtime.NumCPU() {
		go func() {
			x := uint64(1)
			for {
				x = x*6364136223846793005 + 1442695040888963407
			}
		}()
	}
	time.Sleep(*d)
}

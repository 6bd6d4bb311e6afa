// Command bench serves the GeoDNS side of the peer benchmark (run.sh):
// the node of a cluster file, health probing off (every edge healthy), on
// a given address, optionally writing a CPU profile of a window of its
// run. It uses only the package's public API, so it also builds against
// older versions of the package for same-run comparisons.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/geodns"
)

func main() {
	cfgPath := flag.String("config", "", "cluster file")
	node := flag.String("node", "ns1", "GeoDNS node of the cluster file")
	listen := flag.String("listen", "", "DNS address (default: the node's)")
	prof := flag.String("cpuprofile", "", "write a CPU profile to this file")
	profAfter := flag.Duration("prof-after", 0, "start the profile this long after start")
	profFor := flag.Duration("prof-for", 10*time.Second, "length of the profile")
	flag.Parse()
	cl, err := config.Load(*cfgPath)
	if err != nil {
		log.Fatal(err)
	}
	gc, addr, err := geodns.FromCluster(cl, *node)
	if err != nil {
		log.Fatal(err)
	}
	if *listen != "" {
		addr = *listen
	}
	gc.Health.Disabled = true
	s, err := geodns.New(gc, geodns.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	if *prof != "" {
		go func() {
			time.Sleep(*profAfter)
			f, err := os.Create(*prof)
			if err != nil {
				log.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				log.Fatal(err)
			}
			time.Sleep(*profFor)
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				log.Fatal(err)
			}
			log.Print("profile written")
		}()
	}
	if err := s.ListenAndServe(ctx, addr); err != nil {
		log.Fatal(err)
	}
}

package edge

import "sync"

// startHealthChecks runs the active health checks of every upstream set
// that configures them; the returned func stops them and waits.
func (s *Server) startHealthChecks() func() {
	var wg sync.WaitGroup
	for _, set := range s.sets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			set.pool.Run(s.baseCtx)
		}()
	}
	return func() {
		s.cancel()
		wg.Wait()
	}
}

package edge

import "sync"

// startHealthChecks runs the active health checks of every upstream set
// that configures them, and the background work attached before Run (the
// purge consumer); the returned func stops them and waits.
func (s *Server) startHealthChecks() func() {
	var wg sync.WaitGroup
	s.mu.Lock()
	background := s.background
	s.mu.Unlock()
	for _, fn := range background {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(s.baseCtx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.runHealth()
	}()
	return func() {
		s.cancel()
		wg.Wait()
	}
}

package edge

import "sync"

// startHealthChecks runs the active health checks of every upstream set
// that configures them, and the background work attached before Run (the
// purge consumer); the returned func stops them and waits.
func (n *Node) startHealthChecks() func() {
	var wg sync.WaitGroup
	n.mu.Lock()
	background := n.background
	n.mu.Unlock()
	for _, fn := range background {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(n.p.baseCtx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.p.runHealth()
	}()
	return func() {
		n.p.cancel()
		wg.Wait()
	}
}

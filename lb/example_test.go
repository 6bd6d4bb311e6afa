package lb_test

import (
	"fmt"

	"github.com/selfcdn/cdn/lb"
)

// An edge picks the shield that owns a cache key, and fails over along the
// key's order when that shield is down; every edge computes the same.
func Example() {
	shields := []*lb.Backend{
		{Name: "shield-1", Addr: "10.1.0.10:80"},
		{Name: "shield-2", Addr: "10.1.0.11:80"},
		{Name: "shield-3", Addr: "10.1.0.12:80"},
	}
	pool, err := lb.NewPool(lb.PoolConfig{
		Name:    "shields",
		Policy:  lb.PolicyMaglev,
		Passive: lb.PassiveConfig{MaxFails: 3},
	}, shields, nil, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	req := &lb.Request{Key: "assets.example.com/app.js"}
	owner := pool.Select(req)
	fmt.Println("owner:", owner.Name)

	order := pool.Order(req, nil)
	fmt.Println("order:", order[0].Name, order[1].Name, order[2].Name)

	owner.SetHealthy(false)
	fmt.Println("failover:", pool.Select(req).Name)
	// Output:
	// owner: shield-3
	// order: shield-3 shield-2 shield-1
	// failover: shield-2
}

func ExampleNewSelector() {
	backends := []*lb.Backend{{Name: "a", Weight: 5}, {Name: "b"}, {Name: "c"}}
	sel, err := lb.NewSelector(lb.PolicyWeightedRoundRobin, backends, lb.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := 0; i < 7; i++ {
		fmt.Print(sel.Select(nil).Name, " ")
	}
	fmt.Println()
	// Output: a a b a c a a
}

package l4

import (
	"encoding/hex"
	"fmt"
	"net"
	"strconv"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/quiclb"
)

// FromCluster builds the balancer named node from the cluster file: it
// listens on the node's address on every l4 port and sends flows to the
// same PoP's edges. It also returns the node's address.
func FromCluster(cl *config.Cluster, node string) (Config, string, error) {
	info, err := cl.FindNode(node)
	if err != nil {
		return Config{}, "", err
	}
	if info.Role != config.RoleBalancer {
		return Config{}, "", fmt.Errorf("node %q is a %s, not one of pops[].balancers", node, info.Role)
	}
	s := cl.L4
	cfg := Config{
		SourceAddr:         info.Address,
		ProxyProtocol:      s.ProxyProtocol,
		TableSize:          s.TableSize,
		ConnectTimeout:     s.ConnectTimeout.D(),
		TCPIdleTimeout:     s.Conntrack.TCPIdle.D(),
		UDPIdleTimeout:     s.Conntrack.UDPIdle.D(),
		ConntrackSize:      s.Conntrack.Size,
		MaxConnsPerBackend: s.Limits.MaxConnsPerBackend,
		MaxConnsPerClient:  s.Limits.MaxConnsPerClient,
		DrainTimeout:       s.DrainTimeout.D(),
		ShutdownTimeout:    s.ShutdownTimeout.D(),
		Health: HealthConfig{Type: s.Health.Type, Path: s.Health.Path, Interval: s.Health.Interval.D(),
			Timeout: s.Health.Timeout.D(), Rise: s.Health.Rise, Fall: s.Health.Fall},
	}
	cfg.Passive.MaxFails = s.Passive.MaxFails
	cfg.Passive.CoolDown = s.Passive.CoolDown.D()
	firstTCP := 0
	for _, p := range s.Ports {
		cfg.Listeners = append(cfg.Listeners, ListenerConfig{
			Network: p.Protocol, Addr: net.JoinHostPort(info.Address, strconv.Itoa(p.Port)),
			Service: strconv.Itoa(p.Port), BackendPort: p.BackendPort,
		})
		if p.Protocol == "tcp" && firstTCP == 0 {
			firstTCP = p.BackendPort
		}
	}
	if firstTCP == 0 {
		firstTCP = cl.Ports.HTTP
	}
	if q := s.QUICLB; q.Enabled {
		cfg.QUICLB = &quiclb.Config{ConfigID: q.ConfigID, ServerIDLen: q.ServerIDLen, NonceLen: q.NonceLen}
	}
	for _, e := range info.PoP.Edges {
		addr := net.JoinHostPort(e.Address, strconv.Itoa(firstTCP))
		b := BackendConfig{
			Name: e.Name, Addr: addr, UDPAddr: addr,
			HealthAddr: net.JoinHostPort(e.Address, strconv.Itoa(cl.Ports.Admin)),
		}
		if cfg.QUICLB != nil {
			id, ok := cl.QUICServerID(e.Name)
			if !ok {
				return Config{}, "", fmt.Errorf("edge %s: no QUIC-LB server ID fits l4.quic_lb.server_id_len", e.Name)
			}
			b.ServerID = hex.EncodeToString(id)
		}
		cfg.Backends = append(cfg.Backends, b)
	}
	return cfg, info.Address, nil
}

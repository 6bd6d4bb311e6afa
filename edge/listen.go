package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/selfcdn/cdn/proxyproto"
	"github.com/selfcdn/cdn/quiclb"
)

// Run serves until ctx is cancelled, then shuts down gracefully: listeners
// close, in-flight requests finish (up to 30 s), upstream fetches stop.
func (n *Node) Run(ctx context.Context) error {
	defer n.p.close()
	type srv struct {
		name  string
		hs    *http.Server
		ln    net.Listener
		front front // nil: net/http accepts the connections itself
	}
	var servers []srv
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	errLog := slog.NewLogLogger(n.log.Handler(), slog.LevelWarn)
	mk := func(name, addr string, h http.Handler, tlsCfg *tls.Config) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen %s on %s: %w", name, addr, err)
		}
		hs := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    n.cfg.MaxHeaderBytes,
			ErrorLog:          errLog,
			// Every request reaches the handler, "OPTIONS *" included:
			// the framing guard counts requests, and a request net/http
			// answered itself would put its count out of step.
			DisableGeneralOptionsHandler: true,
			BaseContext:                  func(net.Listener) context.Context { return n.p.baseCtx },
		}
		if name != "admin" {
			// Frames no larger than RFC 9113's initial SETTINGS_MAX_FRAME_SIZE:
			// an oversized HEADERS frame is a FRAME_SIZE_ERROR (§4.2).
			hs.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: n.cfg.H2MaxStreams, MaxReadFrameSize: 16 << 10}
			hs.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
				return context.WithValue(connContext(ctx, c), clientConnKey{}, n.p.newClientConn(c))
			}
		}
		if name != "admin" && len(n.cfg.ProxyProtocolFrom) > 0 {
			ln = proxyproto.NewListener(ln, proxyproto.ListenerConfig{Trusted: n.fromBalancer, Logger: n.log})
		}
		if name != "admin" {
			ln = newConnLimitListener(ln, n.cfg.MaxConnsPerClient, func() {
				n.p.metrics.limitTrips.WithLabelValues("conns_per_client").Inc()
			})
		}
		var fr front
		var eng *fastEngine
		if name == "http" {
			hs.Protocols = &protocols
			if n.cfg.HTTP1Engine != EngineStdlib && n.cfg.WrapHTTP == nil {
				// The fast engine takes the connections and hands to
				// net/http (behind the framing guard) what it does not
				// answer itself.
				eng = newFastEngine(n.p, ln)
				fr, ln = eng, eng.handoff
			} else {
				ln = framingListener{ln}
			}
		}
		var h1 *http.Server // HTTP/1.1 over TLS, behind the framing guard
		if tlsCfg != nil {
			hs.TLSConfig = tlsCfg
			tf := newTLSFront(ln, tlsCfg)
			fr, ln = tf, tf.h2
			if n.cfg.HTTP1Engine != EngineStdlib && n.cfg.WrapHTTP == nil {
				eng = &fastEngine{s: n.p, tls: true, handoff: tf.h1}
				tf.fast = eng
			}
			var p1 http.Protocols
			p1.SetHTTP1(true)
			h1 = &http.Server{
				Handler: hs.Handler, ReadHeaderTimeout: hs.ReadHeaderTimeout, IdleTimeout: hs.IdleTimeout,
				MaxHeaderBytes: hs.MaxHeaderBytes, ErrorLog: errLog, DisableGeneralOptionsHandler: true,
				BaseContext: hs.BaseContext, Protocols: &p1,
				ConnContext: func(ctx context.Context, c net.Conn) context.Context {
					return hs.ConnContext(tlsConnContext(ctx, c), c)
				},
			}
			servers = append(servers, srv{name + "-h1", h1, tf.h1, nil})
		}
		n.mu.Lock()
		n.addrs[name] = ln.Addr()
		n.running = append(n.running, hs)
		if h1 != nil {
			n.running = append(n.running, h1)
		}
		if fr != nil {
			n.fronts = append(n.fronts, fr)
		}
		if eng != nil {
			n.engines = append(n.engines, eng)
		}
		n.mu.Unlock()
		servers = append(servers, srv{name, hs, ln, fr})
		return nil
	}
	closeAll := func() {
		for _, x := range servers {
			x.ln.Close()
			if x.front != nil {
				x.front.close()
			}
		}
	}
	var handler http.Handler = n.p
	if n.cfg.WrapHTTP != nil {
		handler = n.cfg.WrapHTTP(n.p)
	}
	if n.cfg.Listen != "" {
		if err := mk("http", n.cfg.Listen, handler, nil); err != nil {
			return err
		}
	}
	var h3 *http3.Server
	var h3conn net.PacketConn
	if n.cfg.TLSListen != "" {
		tc, err := n.tlsConfig()
		if err != nil {
			closeAll()
			return err
		}
		if err := mk("https", n.cfg.TLSListen, handler, tc); err != nil {
			closeAll()
			return err
		}
		if !n.cfg.DisableHTTP3 {
			// HTTP/3 on the same port as TLS over TCP (UDP).
			h3conn, err = net.ListenPacket("udp", n.Addr("https").String())
			if err != nil {
				closeAll()
				return fmt.Errorf("listen http3 on %s: %w", n.Addr("https"), err)
			}
			h3 = &http3.Server{
				Handler: n.p,
				ConnContext: func(ctx context.Context, c *quic.Conn) context.Context {
					cc := n.p.newClientConn(nil)
					cc.closeFn = func() { c.CloseWithError(0, "too many abandoned requests") }
					return context.WithValue(ctx, clientConnKey{}, cc)
				},
				TLSConfig:      http3.ConfigureTLSConfig(tc.Clone()),
				MaxHeaderBytes: n.cfg.MaxHeaderBytes,
				IdleTimeout:    120 * time.Second,
				QUICConfig: &quic.Config{
					MaxIncomingStreams: n.cfg.H3MaxStreams,
					MaxIdleTimeout:     60 * time.Second,
					Allow0RTT:          n.cfg.Allow0RTT,
				},
			}
			port := h3conn.LocalAddr().(*net.UDPAddr).Port
			n.p.altSvc = fmt.Sprintf(`h3=":%d"; ma=86400`, port)
			n.mu.Lock()
			n.addrs["http3"] = h3conn.LocalAddr()
			n.h3 = h3
			n.mu.Unlock()
		}
	}
	if n.cfg.Admin != "" {
		if err := mk("admin", n.cfg.Admin, n.adminHandler(), nil); err != nil {
			closeAll()
			return err
		}
	}
	stopHealth := sync.OnceFunc(n.startHealthChecks())
	defer stopHealth()
	errc := make(chan error, len(servers)+1) // and HTTP/3
	for _, x := range servers {
		n.log.Info("listening", "listener", x.name, "addr", x.ln.Addr().String(), "role", n.cfg.Role)
		if x.front != nil {
			go x.front.serve()
		}
		go func() {
			if err := x.hs.Serve(x.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s listener: %w", x.name, err)
			}
		}()
	}
	var h3ln *quic.EarlyListener
	var h3tr *quic.Transport
	if h3 != nil && n.cfg.QUICLB != nil {
		// QUIC-LB: connection IDs carry this edge's server ID.
		gen, err := quiclb.NewGenerator(*n.cfg.QUICLB, n.cfg.QUICServerID)
		if err == nil {
			h3tr = &quic.Transport{Conn: h3conn, ConnectionIDGenerator: gen}
			h3ln, err = h3tr.ListenEarly(h3.TLSConfig, h3.QUICConfig)
		}
		if err != nil {
			closeAll()
			h3conn.Close()
			return fmt.Errorf("http3 with QUIC-LB connection IDs: %w", err)
		}
	}
	if h3 != nil {
		n.log.Info("listening", "listener", "http3", "addr", h3conn.LocalAddr().String(), "role", n.cfg.Role)
		go func() {
			var err error
			if h3ln != nil {
				err = h3.ServeListener(h3ln)
			} else {
				err = h3.Serve(h3conn)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, quic.ErrServerClosed) {
				errc <- fmt.Errorf("http3 listener: %w", err)
			}
		}()
	}
	n.readyOnce.Do(func() { close(n.ready) })
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	n.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, x := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if x.front != nil {
				x.front.close()
			}
			if err := x.hs.Shutdown(sctx); err != nil {
				x.hs.Close()
			}
		}()
	}
	if h3 != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h3.Shutdown(sctx); err != nil {
				h3.Close()
			}
			if h3ln != nil {
				h3ln.Close()
				h3tr.Close()
			}
			h3conn.Close()
		}()
	}
	wg.Wait()
	n.p.cancel()
	n.p.transport.CloseIdleConnections()
	stopHealth()
	n.mu.Lock()
	after := n.afterStop
	n.afterStop = nil
	n.mu.Unlock()
	for _, fn := range after {
		fn()
	}
	return runErr
}

// Close stops the node at once: listeners and every connection are
// closed mid-request, as if the process died. Run then returns.
func (n *Node) Close() {
	n.mu.Lock()
	running := n.running
	n.mu.Unlock()
	for _, hs := range running {
		hs.Close()
	}
	n.mu.Lock()
	fronts := n.fronts
	n.mu.Unlock()
	for _, f := range fronts {
		f.close()
	}
	n.mu.Lock()
	h3 := n.h3
	n.mu.Unlock()
	if h3 != nil {
		h3.Close()
	}
	n.p.cancel()
}

// tlsConfig returns the TLS settings of the HTTPS and HTTP/3 listeners.
func (n *Node) tlsConfig() (*tls.Config, error) {
	if n.cfg.TLSConfig != nil {
		tc := n.cfg.TLSConfig.Clone()
		if len(tc.NextProtos) == 0 {
			tc.NextProtos = []string{"h2", "http/1.1"}
		}
		return tc, nil
	}
	cert, err := tls.LoadX509KeyPair(n.cfg.TLSCert, n.cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s: %w", n.cfg.TLSCert, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}, nil
}

package purge

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultListen is the embedded NATS server's default address.
const DefaultListen = "127.0.0.1:4222"

// EmbeddedConfig configures a NATS server run inside the process, for a
// single-machine CDN, the simulation and tests.
type EmbeddedConfig struct {
	// Listen is host:port for NATS clients. Port 0 or -1 picks a free
	// port. Empty means DefaultListen.
	Listen string
	// StoreDir keeps JetStream data, so the purge log survives a restart
	// of the process; the stream then uses file storage. Empty means
	// memory storage (JetStream's own files go to a temporary directory
	// removed at Shutdown).
	StoreDir string
	// Stream is the purge stream created at start. Empty means
	// DefaultStream.
	Stream string
	// Name is the server's name in NATS logs and monitoring. Empty means
	// "cdn-purge".
	Name string
	// Logger receives the server's log lines. If nil, they are discarded.
	Logger *slog.Logger
	// ReadyTimeout bounds the wait for the server to accept clients.
	// Zero means 10s.
	ReadyTimeout time.Duration
}

// EmbeddedServer is a running in-process NATS server with JetStream.
type EmbeddedServer struct {
	srv     *server.Server
	tempDir string // removed at Shutdown; empty when StoreDir was given
}

// StartEmbedded starts a NATS server with JetStream enabled and creates
// the purge stream on it.
func StartEmbedded(cfg EmbeddedConfig) (*EmbeddedServer, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if cfg.Name == "" {
		cfg.Name = "cdn-purge"
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS listen address %q: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < -1 || port > 65535 {
		return nil, fmt.Errorf("embedded NATS listen address %q: bad port %q", cfg.Listen, portStr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	e := &EmbeddedServer{}
	storeDir := cfg.StoreDir
	if storeDir == "" {
		// JetStream always wants a directory; keep ours private so two
		// servers in one process (tests, simulation) never share one.
		dir, err := os.MkdirTemp("", "cdn-nats-")
		if err != nil {
			return nil, fmt.Errorf("embedded NATS temporary store: %w", err)
		}
		e.tempDir, storeDir = dir, dir
	} else if err := os.MkdirAll(storeDir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded NATS store dir %s: %w", storeDir, err)
	}
	opts := &server.Options{
		ServerName:             cfg.Name,
		Host:                   host,
		Port:                   port,
		JetStream:              true,
		StoreDir:               storeDir,
		NoSigs:                 true,
		DisableJetStreamBanner: true,
		MaxPayload:             MaxEventBytes + 64<<10,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		e.removeTemp()
		return nil, fmt.Errorf("embedded NATS on %s: %w", cfg.Listen, err)
	}
	srv.SetLogger(natsLogger{log}, false, false)
	e.srv = srv
	go srv.Start()
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		e.Shutdown()
		return nil, fmt.Errorf("embedded NATS on %s: not ready within %s", cfg.Listen, cfg.ReadyTimeout)
	}
	if err := e.createStream(cfg.Stream, cfg.StoreDir != "", cfg.ReadyTimeout); err != nil {
		e.Shutdown()
		return nil, err
	}
	log.Info("embedded NATS started", "url", srv.ClientURL(), "store_dir", cfg.StoreDir, "stream", cfg.Stream)
	return e, nil
}

func (e *EmbeddedServer) createStream(name string, file bool, timeout time.Duration) error {
	nc, err := nats.Connect("", nats.InProcessServer(e.srv))
	if err != nil {
		return fmt.Errorf("connect to embedded NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("JetStream on embedded NATS: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := ensureStream(ctx, js, name, file); err != nil {
		return fmt.Errorf("embedded NATS: %w", err)
	}
	return nil
}

// ClientURL is the URL NATS clients connect to, such as
// nats://127.0.0.1:4222.
func (e *EmbeddedServer) ClientURL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits for it to finish. It may be called
// more than once.
func (e *EmbeddedServer) Shutdown() {
	if e == nil || e.srv == nil {
		return
	}
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.removeTemp()
}

func (e *EmbeddedServer) removeTemp() {
	if e.tempDir != "" {
		_ = os.RemoveAll(e.tempDir) // best effort: it lives under the system's temporary directory
		e.tempDir = ""
	}
}

// natsLogger sends the NATS server's log lines to slog.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) {
	l.log.Info("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Warnf(format string, v ...any) { l.log.Warn("nats: " + fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any) {
	l.log.Error("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Errorf(format string, v ...any) {
	l.log.Error("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Debugf(format string, v ...any) {
	l.log.Debug("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Tracef(format string, v ...any) {
	l.log.Debug("nats: " + fmt.Sprintf(format, v...))
}

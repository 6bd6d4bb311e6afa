package purge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
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
	// ReadyTimeout bounds the whole start (listener, JetStream, purge
	// stream) when StartEmbedded is used; StartEmbeddedContext follows its
	// context instead. Zero means 30s.
	ReadyTimeout time.Duration
}

// EmbeddedServer is a running in-process NATS server with JetStream.
type EmbeddedServer struct {
	srv     *server.Server
	tempDir string // removed at Shutdown; empty when StoreDir was given
}

// StartEmbedded starts a NATS server with JetStream enabled and creates
// the purge stream on it, within cfg.ReadyTimeout.
func StartEmbedded(cfg EmbeddedConfig) (*EmbeddedServer, error) {
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ReadyTimeout)
	defer cancel()
	return StartEmbeddedContext(ctx, cfg)
}

// StartEmbeddedContext starts a NATS server with JetStream enabled and
// creates the purge stream on it. It waits as long as ctx allows, for the
// server's own readiness: its client listener (ReadyForConnections), then
// JetStream, then the stream. A slow start fails with the step that did
// not finish. When the address is taken (another process runs the
// embedded NATS already), it fails at once with an error wrapping
// syscall.EADDRINUSE, so the caller can join that server as a client.
func StartEmbeddedContext(ctx context.Context, cfg EmbeddedConfig) (*EmbeddedServer, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if cfg.Name == "" {
		cfg.Name = "cdn-purge"
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
	if port > 0 {
		// Fail at once, with the system's error, when the port is taken:
		// the server itself would only log it and never become ready.
		ln, err := net.Listen("tcp", net.JoinHostPort(host, portStr))
		if err != nil {
			return nil, fmt.Errorf("embedded NATS on %s: %w", cfg.Listen, err)
		}
		ln.Close()
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
	fatal := make(chan string, 1)
	srv.SetLogger(natsLogger{log: log, fatal: fatal}, false, false)
	e.srv = srv
	began := time.Now()
	started := make(chan struct{})
	go func() {
		defer close(started)
		srv.Start()
	}()
	fail := func(step string, err error) (*EmbeddedServer, error) {
		// nats-server's Shutdown must not overlap a Start still setting
		// the server up (the race detector shows them sharing fields
		// when a start is given up at once): let Start return first.
		select {
		case <-started:
		case <-time.After(10 * time.Second):
		}
		e.Shutdown()
		return nil, fmt.Errorf("embedded NATS on %s: %s after %s: %w", cfg.Listen, step, time.Since(began).Round(time.Millisecond), err)
	}
	// The server's own readiness, asked in short slices so that a fatal
	// error (a port taken since the check above) or the caller's context
	// ends the wait.
	ready := func(step string, ok func() bool) error {
		for {
			select {
			case msg := <-fatal:
				if strings.Contains(msg, "address already in use") {
					return fmt.Errorf("%s: %w", msg, syscall.EADDRINUSE)
				}
				return errors.New(msg)
			case <-ctx.Done():
				return fmt.Errorf("%s not finished: %w", step, context.Cause(ctx))
			default:
			}
			if ok() {
				return nil
			}
		}
	}
	if err := ready("client listener", func() bool { return srv.ReadyForConnections(50 * time.Millisecond) }); err != nil {
		return fail("client listener", err)
	}
	if err := ready("JetStream", func() bool {
		if srv.JetStreamEnabled() {
			return true
		}
		time.Sleep(10 * time.Millisecond) // JetStream has no readiness channel to wait on
		return false
	}); err != nil {
		return fail("JetStream", err)
	}
	if err := e.createStream(ctx, cfg.Stream, cfg.StoreDir != ""); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("not finished: %w (%w)", context.Cause(ctx), err)
		}
		return fail("purge stream "+cfg.Stream, err)
	}
	log.Info("embedded NATS started", "url", srv.ClientURL(), "store_dir", cfg.StoreDir, "stream", cfg.Stream)
	return e, nil
}

func (e *EmbeddedServer) createStream(ctx context.Context, name string, file bool) error {
	nc, err := nats.Connect("", nats.InProcessServer(e.srv))
	if err != nil {
		return fmt.Errorf("connect to embedded NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("JetStream on embedded NATS: %w", err)
	}
	if _, err := ensureStream(ctx, js, name, file); err != nil {
		return err
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

// natsLogger sends the NATS server's log lines to slog. Its notices (the
// start banner, shutdown steps) are debug lines: "embedded NATS started"
// says what an operator needs, and warnings and errors stay as they are.
// The first fatal line goes to fatal (if not nil), so that a start
// waiting for readiness fails at once instead of waiting for its deadline.
type natsLogger struct {
	log   *slog.Logger
	fatal chan<- string
}

func (l natsLogger) Noticef(format string, v ...any) {
	l.log.Debug("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Warnf(format string, v ...any) { l.log.Warn("nats: " + fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error("nats: " + msg)
	select {
	case l.fatal <- msg:
	default:
	}
}
func (l natsLogger) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.HasPrefix(msg, "Error listening on port") {
		// The start fails with this error and the caller reports it (or,
		// for a node that lost the election for the embedded bus, joins
		// the winner): not an error of its own.
		l.log.Debug("nats: " + msg)
		return
	}
	l.log.Error("nats: " + msg)
}
func (l natsLogger) Debugf(format string, v ...any) {
	l.log.Debug("nats: " + fmt.Sprintf(format, v...))
}
func (l natsLogger) Tracef(format string, v ...any) {
	l.log.Debug("nats: " + fmt.Sprintf(format, v...))
}

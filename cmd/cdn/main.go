// Command cdn runs every part of the CDN: origin, edge, shield, geodns,
// the in-process simulation, the load generator and the purge client.
//
//	cdn <command> [flags]
//
// Each command documents its flags with --help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: its one-line summary and its entry point.
// run receives the arguments after the command name and a context that is
// cancelled on SIGINT or SIGTERM.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"origin":   {"serve files and synthetic objects as a test origin", cmdOrigin},
		"edge":     {"run an edge or shield node (cluster file or quick mode)", cmdEdge},
		"geodns":   {"run an authoritative GeoDNS node for the CDN's zone", cmdGeoDNS},
		"sim":      {"run the whole CDN in one process on loopback", cmdSim},
		"loadtest": {"generate realistic client load and report on it", cmdLoadtest},
		"purge":    {"purge content through a node's admin API", cmdPurge},
		"config":   {"check a cluster file and print it with defaults applied", cmdConfig},
		"l4":       {"run a layer-4 balancer (Maglev, connection tracking, PROXY protocol)", cmdL4},
		"proxy":    {"run a forward proxy: CONNECT tunnels, cached plain HTTP, access rules", cmdProxy},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: cdn <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'cdn <command> --help' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a command and turns its error into an exit status:
// 0 on success, 2 for usage errors, 1 for everything else.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands()[name]
	if !ok {
		fmt.Fprintf(stderr, "cdn: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "cdn %s: %v\n", name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "cdn %s: %v\n", name, err)
		return 1
	}
}

// usageError marks an error in the command line rather than in the work.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints its usage with a summary line.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("cdn "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: cdn %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and turns a flag error into a usageError.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// Command driftless is the one-shot CLI over the driftless SDK: each subcommand runs one
// stage (fetch, render, diff, sync) over a repository or a directory and exits.
//
//	driftless fetch URL [--ref REF]
//	driftless render [--root DIR] PATH
//	driftless diff --kubeconfig K [--root DIR] PATH
//	driftless sync --kubeconfig K [--prune] [--dry-run] [--force] [--namespace NS] [--root DIR] PATH
//	driftless sync --kubeconfig K --app app.yaml [--project project.yaml] [--prune] [--dry-run]
//
// Exit status: 0 on success, 2 on error (diff also uses 1 for "drift found").
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand. run gets the arguments after the subcommand name and
// returns the process exit status.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands; each lives in its own cmd_<name>.go file.
func commands() []command {
	return []command{renderCommand(), fetchCommand(), syncCommand(), diffCommand()}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "driftless: unknown command %q\n\n", args[0])
	usage(stderr, cmds)
	return 2
}

// newFlags returns a subcommand's FlagSet: errors and -h go to stderr, and -h prints
// usage (a usage line and a description) followed by the flags.
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	return fs
}

// stringList collects a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func usage(w io.Writer, cmds []command) {
	fmt.Fprintln(w, "usage: driftless <command> [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}

// Command fetchbench runs one source.Fetcher.Fetch in a process of its own, so that the
// source benchmarks can measure its peak memory (the process's max RSS) beside the git
// CLI's. Usage:
//
//	fetchbench CACHE_DIR URL BRANCH     fetch BRANCH into the cache, print the revision
//	fetchbench -measure CMD [ARGS...]   run CMD, print "maxrss-kib N" (its peak RSS)
//
// The -measure mode exists because a child's max RSS, as wait4 reports it, starts at
// the RSS of the process that forked it (Linux carries the pre-exec high-water mark
// over), so it must be forked from a small process, not from a big test binary.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/driftless-dev/driftless/source"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "-measure" {
		os.Exit(measure(os.Args[2:]))
	}
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: fetchbench CACHE_DIR URL BRANCH | fetchbench -measure CMD [ARGS...]")
		os.Exit(2)
	}
	cache, err := source.NewDiskCache(source.CacheOptions{Dir: os.Args[1], EvictInterval: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	f, err := source.NewFetcher(cache)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	snap, err := f.Fetch(context.Background(), source.Repository{URL: os.Args[2]}, source.Ref{Branch: os.Args[3]})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(snap.Revision)
	_ = snap.Close()
}

// measure runs args and prints its peak RSS (the maximum over it and the children it
// waited for).
func measure(args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	out, err := cmd.Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n%s", args[0], err, out)
		return 1
	}
	fmt.Printf("maxrss-kib %d\n", cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
	return 0
}

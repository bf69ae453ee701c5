package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/driftless-dev/driftless/source"
)

// fetchCommand is `driftless fetch URL [--ref REF]`: it resolves REF in the repository
// at URL, checks the commit out into the source cache and prints the revision, the
// snapshot's path and its digest. URL may also be a local directory, snapshotted with
// the same contract.
func fetchCommand() command {
	return command{
		name:    "fetch",
		summary: "resolve a Git ref and print the revision and the snapshot path",
		run:     runFetch,
	}
}

func runFetch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("fetch", "usage: driftless fetch [flags] URL|DIR\n"+
		"\n"+
		"Resolves --ref (default: the remote's HEAD) with one ls-remote, fetches only what\n"+
		"the cache lacks, and prints the revision and the read-only snapshot's path.\n"+
		"\n"+
		"Credentials come from the environment: DRIFTLESS_GIT_USERNAME and\n"+
		"DRIFTLESS_GIT_PASSWORD (basic), DRIFTLESS_GIT_TOKEN (bearer),\n"+
		"DRIFTLESS_SSH_KEY_PASSPHRASE (for --ssh-key).", stderr)
	refFlag := fs.String("ref", "", "branch:NAME, tag:NAME, semver:RANGE, commit:SHA, ref:NAME, a bare SHA, a semver range, or any ref name (default: remote HEAD)")
	cacheDir := fs.String("cache", "", "source cache directory (default: $XDG_CACHE_HOME/driftless/source)")
	shallow := fs.Bool("shallow", false, "fetch only the wanted commit (depth 1)")
	caFile := fs.String("ca-file", "", "PEM CA bundle trusted for https:// in addition to the system pool")
	sshKey := fs.String("ssh-key", "", "SSH private key file for ssh:// URLs")
	knownHosts := fs.String("known-hosts", "", "known_hosts file for ssh:// URLs (default: ~/.ssh/known_hosts)")
	insecureHostKey := fs.Bool("insecure-ignore-host-key", false, "accept any SSH host key (unsafe)")
	allowHTTP := fs.Bool("allow-insecure-http", false, "allow credentials over plain http://")
	keyring := fs.String("verify-keyring", "", "armored OpenPGP keyring: refuse commits not signed by one of its keys")
	var ignores stringList
	fs.Var(&ignores, "ignore", "extra ignore pattern, gitignore syntax (repeatable)")

	positional, err := parseFetchArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(positional) != 1 {
		fs.Usage()
		return 2
	}
	target := positional[0]

	cache, err := source.NewDiskCache(source.CacheOptions{Dir: *cacheDir})
	if err != nil {
		fmt.Fprintf(stderr, "driftless fetch: %v\n", err)
		return 2
	}
	fetcher, err := source.NewFetcher(cache)
	if err != nil {
		fmt.Fprintf(stderr, "driftless fetch: %v\n", err)
		return 2
	}

	var snap *source.Snapshot
	if info, statErr := os.Stat(target); statErr == nil && info.IsDir() && !strings.Contains(target, "://") {
		if *refFlag != "" {
			fmt.Fprintln(stderr, "driftless fetch: --ref does not apply to a local directory")
			return 2
		}
		snap, err = fetcher.Local(ctx, target, source.LocalOptions{Ignore: ignores})
	} else {
		var ref source.Ref
		ref, err = source.ParseRef(*refFlag)
		if err != nil {
			fmt.Fprintf(stderr, "driftless fetch: --ref: %v\n", err)
			return 2
		}
		repo := source.Repository{
			URL:               target,
			Shallow:           *shallow,
			AllowInsecureHTTP: *allowHTTP,
			Ignore:            ignores,
			Auth: source.Auth{
				Username:              os.Getenv("DRIFTLESS_GIT_USERNAME"),
				Password:              os.Getenv("DRIFTLESS_GIT_PASSWORD"),
				BearerToken:           os.Getenv("DRIFTLESS_GIT_TOKEN"),
				SSHKeyPassphrase:      os.Getenv("DRIFTLESS_SSH_KEY_PASSPHRASE"),
				InsecureIgnoreHostKey: *insecureHostKey,
			},
		}
		if err := loadFetchFiles(&repo, *caFile, *sshKey, *knownHosts, *keyring); err != nil {
			fmt.Fprintf(stderr, "driftless fetch: %v\n", err)
			return 2
		}
		snap, err = fetcher.Fetch(ctx, repo, ref)
	}
	if err != nil {
		fmt.Fprintf(stderr, "driftless fetch: %v\n", err)
		return 2
	}
	defer func() { _ = snap.Close() }()
	fmt.Fprintf(stdout, "revision: %s\npath: %s\ndigest: %s\n", snap.Revision, snap.Dir, snap.Digest)
	return 0
}

// loadFetchFiles reads the files the flags name into repo.
func loadFetchFiles(repo *source.Repository, caFile, sshKey, knownHosts, keyring string) error {
	read := func(flagName, path string) ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", flagName, err)
		}
		return b, nil
	}
	var err error
	if caFile != "" {
		if repo.CABundle, err = read("ca-file", caFile); err != nil {
			return err
		}
	}
	if keyring != "" {
		b, err := read("verify-keyring", keyring)
		if err != nil {
			return err
		}
		repo.VerifyKeyring = string(b)
	}
	if sshKey == "" {
		return nil
	}
	if repo.Auth.SSHKey, err = read("ssh-key", sshKey); err != nil {
		return err
	}
	if knownHosts == "" && !repo.Auth.InsecureIgnoreHostKey {
		home, herr := os.UserHomeDir()
		if herr != nil {
			return fmt.Errorf("--known-hosts: %w", herr)
		}
		knownHosts = filepath.Join(home, ".ssh", "known_hosts")
	}
	if knownHosts != "" {
		if repo.Auth.KnownHosts, err = read("known-hosts", knownHosts); err != nil {
			return err
		}
	}
	return nil
}

// parseFetchArgs parses flags placed before or after the positional arguments
// (`fetch URL --ref main` as well as `fetch --ref main URL`); "--" ends the flags.
func parseFetchArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

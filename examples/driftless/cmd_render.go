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

	"github.com/driftless-dev/driftless/render"
	"github.com/driftless-dev/driftless/render/sops"
)

// renderCommand is `driftless render [--root DIR] PATH`: it prints the YAML stream
// of the kustomization (or plain-manifest directory) at PATH, byte for byte what
// `kustomize build PATH` prints, built on a filesystem that cannot leave DIR.
func renderCommand() command {
	return command{
		name:    "render",
		summary: "print the manifests of a kustomization (like kustomize build, sandboxed)",
		run:     runRender,
	}
}

func runRender(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("render", "usage: driftless render [flags] PATH\n"+
		"\n"+
		"Prints the YAML stream of the kustomization at PATH (a directory without one\n"+
		"renders as its YAML files). Nothing outside the root is read.", stderr)
	root := fs.String("root", "", "the directory the build may read (default: the enclosing Git work tree of PATH, else the current directory when PATH is inside it, else PATH)")
	allowRemote := fs.Bool("allow-remote", false, "let kustomizations fetch remote bases and files (runs git and HTTP requests)")
	restrictor := fs.String("load-restrictor", "LoadRestrictionsRootOnly", "LoadRestrictionsRootOnly or LoadRestrictionsNone, as for kustomize build (the root still bounds the build)")
	var vars, ageKeys stringList
	fs.Var(&vars, "var", "KEY=VALUE for post-build substitution of ${KEY} (repeatable; enables substitution)")
	strict := fs.Bool("strict", false, "with --var: an undefined variable without a default is an error")
	fs.Var(&ageKeys, "age-key-file", "age identity file to decrypt SOPS Secrets (repeatable; SOPS_AGE_KEY and SOPS_AGE_KEY_FILE are read too)")

	positional, err := parseInterspersed(fs, args)
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
	opts := render.Options{AllowRemoteBases: *allowRemote}
	switch *restrictor {
	case "LoadRestrictionsRootOnly", "rootOnly", "":
	case "LoadRestrictionsNone", "none":
		opts.LoadRestrictionsNone = true
	default:
		fmt.Fprintf(stderr, "driftless render: --load-restrictor %q: want LoadRestrictionsRootOnly or LoadRestrictionsNone\n", *restrictor)
		return 2
	}
	if len(vars) > 0 {
		sub := &render.Substitution{Vars: map[string]string{}, Strict: *strict}
		for _, kv := range vars {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				fmt.Fprintf(stderr, "driftless render: --var %q: want KEY=VALUE\n", kv)
				return 2
			}
			sub.Vars[k] = v
		}
		opts.Substitution = sub
	}
	if d, err := decryptorFromFlags(ageKeys); err != nil {
		fmt.Fprintf(stderr, "driftless render: %v\n", err)
		return 2
	} else if d != nil {
		opts.Decryptor = d
	}

	rootDir, rel, err := renderTarget(*root, positional[0])
	if err != nil {
		fmt.Fprintf(stderr, "driftless render: %v\n", err)
		return 2
	}
	m, err := render.Render(ctx, rootDir, rel, opts)
	if err != nil {
		fmt.Fprintf(stderr, "driftless render: %v\n", err)
		return 2
	}
	if _, err := stdout.Write(m.YAML()); err != nil {
		fmt.Fprintf(stderr, "driftless render: %v\n", err)
		return 2
	}
	return 0
}

// parseInterspersed parses flags before and after positional arguments, as
// `kustomize build PATH --flag` allows.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// decryptorFromFlags builds a SOPS decryptor from --age-key-file and the SOPS_AGE_*
// variables; nil when none is given.
func decryptorFromFlags(files []string) (render.Decryptor, error) {
	ids, err := sops.IdentitiesFromEnv()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--age-key-file: %w", err)
		}
		parsed, err := sops.ParseIdentities(strings.NewReader(string(data)))
		if err != nil {
			return nil, fmt.Errorf("--age-key-file %s: %w", f, err)
		}
		ids = append(ids, parsed...)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return sops.New(sops.Options{Identities: ids})
}

// renderTarget resolves the root and PATH relative to it. PATH is relative to the
// current directory, as for kustomize build.
func renderTarget(root, path string) (string, string, error) {
	absPath, err := filepath.Abs(path)
	if err != nil {
		return "", "", err
	}
	if real, err := filepath.EvalSymlinks(absPath); err == nil {
		absPath = real
	}
	if root == "" {
		root = defaultRoot(absPath)
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", "", err
	}
	if real, err := filepath.EvalSymlinks(absRoot); err == nil {
		absRoot = real
	}
	rel, err := filepath.Rel(absRoot, absPath)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", "", fmt.Errorf("%s is outside the root %s (set --root)", path, root)
	}
	return absRoot, filepath.ToSlash(rel), nil
}

// defaultRoot is the Git work tree holding path, else the current directory when it
// holds path, else path itself.
func defaultRoot(absPath string) string {
	for dir := absPath; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	if wd, err := os.Getwd(); err == nil {
		if real, err := filepath.EvalSymlinks(wd); err == nil {
			wd = real
		}
		if rel, err := filepath.Rel(wd, absPath); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return wd
		}
	}
	return absPath
}

package render

import (
	"bytes"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// refScan walks the kustomizations a build will load, before kustomize runs, and
// checks every reference they make: kustomize itself fetches remote bases (it runs
// `git clone`) and remote files (an HTTP GET) without going through the filesystem,
// so the sandbox cannot stop those and the scan must. It also reports absolute and
// root-escaping references with the kustomization that makes them, and whether any
// kustomization sets the process-global `openapi` field (see openapi.go).
//
// The filesystem enforces the root on its own; the scan only makes errors precise
// and keeps the network out.
type refScan struct {
	s           *sandboxFS
	allowRemote bool
	visited     map[string]bool
	openapi     bool // some kustomization sets openapi
	remote      bool // some reference is remote (allowed)
}

// kustRefs are the kustomization fields that name files, directories or URLs.
type kustRefs struct {
	Resources             []string          `json:"resources"`
	Bases                 []string          `json:"bases"`
	Components            []string          `json:"components"`
	Crds                  []string          `json:"crds"`
	Configurations        []string          `json:"configurations"`
	Generators            []string          `json:"generators"`
	Transformers          []string          `json:"transformers"`
	Validators            []string          `json:"validators"`
	Patches               []pathRef         `json:"patches"`
	PatchesJSON6902       []pathRef         `json:"patchesJson6902"`
	PatchesStrategicMerge []string          `json:"patchesStrategicMerge"`
	Replacements          []pathRef         `json:"replacements"`
	OpenAPI               map[string]string `json:"openapi"`
	ConfigMapGenerator    []generatorRefs   `json:"configMapGenerator"`
	SecretGenerator       []generatorRefs   `json:"secretGenerator"`
}

type pathRef struct {
	Path string `json:"path"`
}

type generatorRefs struct {
	Files []string `json:"files"`
	Envs  []string `json:"envs"`
	Env   string   `json:"env"`
}

// pluginRefs are the fields of builtin generator and transformer configurations
// (PatchTransformer, ReplacementTransformer, ConfigMapGenerator, ...) that name files.
type pluginRefs struct {
	Path         string    `json:"path"`
	Files        []string  `json:"files"`
	Envs         []string  `json:"envs"`
	Env          string    `json:"env"`
	Replacements []pathRef `json:"replacements"`
}

// scan checks the kustomization in dir (relative to the root) and, depth first,
// every local directory it builds on.
func (sc *refScan) scan(dir string) error {
	if sc.visited[dir] {
		return nil
	}
	sc.visited[dir] = true
	var data []byte
	var kfile string
	for _, n := range kustomizationFileNames {
		f := joinRel(dir, n)
		if d, err := sc.s.readFile(f); err == nil {
			data, kfile = d, f
			break
		}
	}
	if kfile == "" {
		return nil // kustomize reports the missing kustomization
	}
	var k kustRefs
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil // kustomize reports the syntax error
	}
	if len(k.OpenAPI) > 0 {
		sc.openapi = true
	}
	c := refChecker{sc: sc, dir: dir, kfile: kfile}
	for _, f := range []struct {
		field string
		refs  []string
		dirs  bool
	}{
		{"resources", k.Resources, true},
		{"bases", k.Bases, true},
		{"components", k.Components, true},
		{"crds", k.Crds, false},
		{"configurations", k.Configurations, false},
		{"generators", k.Generators, true},
		{"transformers", k.Transformers, true},
		{"validators", k.Validators, true},
	} {
		for _, ref := range f.refs {
			if err := c.entry(f.field, ref, f.dirs); err != nil {
				return err
			}
		}
	}
	for _, p := range k.Patches {
		if err := c.file("patches", p.Path); err != nil {
			return err
		}
	}
	for _, p := range k.PatchesJSON6902 {
		if err := c.file("patchesJson6902", p.Path); err != nil {
			return err
		}
	}
	for _, p := range k.PatchesStrategicMerge {
		if !strings.Contains(p, "\n") {
			if err := c.file("patchesStrategicMerge", p); err != nil {
				return err
			}
		}
	}
	for _, r := range k.Replacements {
		if err := c.file("replacements", r.Path); err != nil {
			return err
		}
	}
	if err := c.file("openapi", k.OpenAPI["path"]); err != nil {
		return err
	}
	for _, g := range append(k.ConfigMapGenerator, k.SecretGenerator...) {
		if err := c.generator(g.Files, g.Envs, g.Env); err != nil {
			return err
		}
	}
	return nil
}

// refChecker checks the references of one kustomization file.
type refChecker struct {
	sc    *refScan
	dir   string // the kustomization's directory, relative to the root
	kfile string
}

// check classifies one reference; local is the referenced path relative to the
// root when the reference is local.
func (c refChecker) check(field, ref string) (local string, isLocal bool, err error) {
	if ref == "" {
		return "", false, nil
	}
	if isRemoteRef(ref) {
		if !c.sc.allowRemote {
			return "", false, &ConstraintError{Op: field, Path: c.kfile, Ref: ref, Err: ErrRemoteDisabled}
		}
		c.sc.remote = true
		return "", false, nil
	}
	if filepath.IsAbs(ref) || strings.HasPrefix(ref, "/") {
		return "", false, &ConstraintError{Op: field, Path: c.kfile, Ref: ref, Err: ErrAbsolutePath}
	}
	joined := path.Clean(path.Join(c.dir, filepath.ToSlash(ref)))
	if joined == ".." || strings.HasPrefix(joined, "../") {
		return "", false, &ConstraintError{Op: field, Path: c.kfile, Ref: ref, Err: ErrOutsideRoot}
	}
	return joined, true, nil
}

// file checks a reference to a file.
func (c refChecker) file(field, ref string) error {
	_, _, err := c.check(field, ref)
	return err
}

// entry checks an entry of resources, components, generators, ...: a file, a
// directory holding a kustomization (scanned in turn), or, for generators and
// transformers, an inline configuration.
func (c refChecker) entry(field, ref string, dirs bool) error {
	if strings.Contains(ref, "\n") {
		return c.pluginConfig(field, []byte(ref))
	}
	// kustomize tries a resource as a local file first: an existing local file wins
	// over a name that looks like a Git URL.
	if !filepath.IsAbs(ref) {
		local := path.Clean(path.Join(c.dir, filepath.ToSlash(ref)))
		if local != ".." && !strings.HasPrefix(local, "../") {
			if fi, err := c.sc.s.stat(local); err == nil && !fi.IsDir() {
				if field == "generators" || field == "transformers" || field == "validators" {
					if data, err := c.sc.s.readFile(local); err == nil {
						return c.pluginConfig(field, data)
					}
				}
				return nil
			}
		}
	}
	local, isLocal, err := c.check(field, ref)
	if err != nil || !isLocal || !dirs {
		return err
	}
	if fi, err := c.sc.s.stat(local); err == nil && fi.IsDir() {
		return c.sc.scan(local)
	}
	return nil
}

// generator checks the files and env files of a ConfigMap or Secret generator.
func (c refChecker) generator(files, envs []string, env string) error {
	for _, f := range files {
		if i := strings.Index(f, "="); i >= 0 {
			f = f[i+1:]
		}
		if err := c.file("files", f); err != nil {
			return err
		}
	}
	for _, e := range append(envs, env) {
		if err := c.file("envs", e); err != nil {
			return err
		}
	}
	return nil
}

// pluginConfig checks the file references inside builtin plugin configurations (one
// or more YAML documents).
func (c refChecker) pluginConfig(field string, data []byte) error {
	for _, doc := range splitDocuments(data) {
		var p pluginRefs
		if err := yaml.Unmarshal(doc, &p); err != nil {
			continue
		}
		if err := c.file(field, p.Path); err != nil {
			return err
		}
		for _, r := range p.Replacements {
			if err := c.file(field, r.Path); err != nil {
				return err
			}
		}
		if err := c.generator(p.Files, p.Envs, p.Env); err != nil {
			return err
		}
	}
	return nil
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range docSeparator.Split(string(data), -1) {
		if len(bytes.TrimSpace([]byte(d))) > 0 {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

// userPrefix is kustomize's test for an SCP-style user (git@host:org/repo).
var userPrefix = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// isRemoteRef reports whether kustomize would fetch ref over the network: an http(s)
// URL (fetched as a file), or a Git repository spec as kustomize parses them
// (https://, http://, ssh://, file:// URLs, the git:: prefix, user@host: SCP syntax,
// and github.com/ shorthands).
func isRemoteRef(ref string) bool {
	if u, err := url.Parse(ref); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		return true
	}
	if filepath.IsAbs(ref) {
		return false
	}
	n := ref
	if hasPrefixFold(n, "git::") {
		n = n[len("git::"):]
	}
	for _, scheme := range []string{"ssh://", "https://", "http://", "file://"} {
		if hasPrefixFold(n, scheme) {
			return true
		}
	}
	if userPrefix.MatchString(n) {
		return true
	}
	return hasPrefixFold(n, "github.com/") || hasPrefixFold(n, "github.com:")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

package render

import (
	"encoding/json"
	"io/fs"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
)

// kustomizationFileNames are the names kustomize looks for, in its order.
var kustomizationFileNames = konfig.RecognizedKustomizationFileNames()

func isKustomizationFile(rel string) bool {
	base := rel[strings.LastIndexByte(rel, '/')+1:]
	for _, n := range kustomizationFileNames {
		if base == n {
			return true
		}
	}
	return false
}

// hasKustomization reports whether dir (relative to the root) holds a kustomization
// file, recording each name it checks (a kustomization.yml appearing later must
// invalidate a cached render).
func (s *sandboxFS) hasKustomization(dir string) bool {
	found := false
	for _, n := range kustomizationFileNames {
		if fi, err := s.stat(joinRel(dir, n)); err == nil && !fi.IsDir() {
			found = true
		}
	}
	return found
}

// autodetect synthesizes the kustomization of a directory that has none, the way
// Flux does for plain-manifest repositories and close to `kustomize create
// --autodetect --recursive`: every *.yaml and *.yml file under dir, in lexical walk
// order, except that a subdirectory with its own kustomization is listed as one
// resource and not descended into. Hidden files and directories (.git, .github) are
// skipped; symbolic links are not followed into directories (like filepath.Walk).
//
// The kustomization exists only inside the render's filesystem, at
// dir/kustomization.yaml. Every listing and check it is made from is recorded as an
// input of the render.
func (s *sandboxFS) autodetect(dir string) ([]byte, error) {
	var resources []string
	var walk func(rel string) error
	walk = func(rel string) error {
		entries, err := s.list(rel)
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			child := joinRel(rel, name)
			if e.Type().IsDir() {
				if s.hasKustomization(child) {
					resources = append(resources, relTo(dir, child))
					continue
				}
				if err := walk(child); err != nil {
					return err
				}
				continue
			}
			if e.Type()&fs.ModeType&^fs.ModeSymlink != 0 {
				continue // sockets, devices, pipes
			}
			if ext := path.Ext(name); ext == ".yaml" || ext == ".yml" {
				resources = append(resources, relTo(dir, child))
			}
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return nil, err
	}
	k := struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}{"kustomize.config.k8s.io/v1beta1", "Kustomization", resources}
	if k.Resources == nil {
		k.Resources = []string{}
	}
	return json.Marshal(k)
}

// relTo returns target relative to dir; both are slash paths relative to the root
// and target lies under dir.
func relTo(dir, target string) string {
	if dir == "." {
		return target
	}
	return strings.TrimPrefix(target, dir+"/")
}

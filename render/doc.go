// Package render turns a directory of a checkout (a Snapshot's Dir) into Kubernetes
// objects with Kustomize (sigs.k8s.io/kustomize/api/krusty), on a filesystem that
// cannot read outside the root, and hands the next stage Manifests: validated objects,
// their YAML stream (byte for byte what `kustomize build` prints) and a digest,
// cached by the content of the files the build actually read.
//
// A render, in order (render.go):
//
//   - the sandbox (fs_secure.go, fsroot*.go): every filesystem operation kustomize
//     makes is checked after resolving symbolic links (no `..` past the root, no link
//     pointing out, no absolute link), reads go through openat2(RESOLVE_BENEATH) or
//     os.Root so the kernel enforces the root, and nothing can be written. Violations
//     are *ConstraintError{Op, Path, Ref, Err}.
//   - a directory without a kustomization renders as its YAML files (autodetect.go).
//   - a scan of the kustomizations' references (refs.go) refuses remote bases and
//     files unless Options.AllowRemoteBases, and absolute or escaping references, with
//     the kustomization and the reference named; kustomize would otherwise run git or
//     HTTP itself. Plugins (exec, container functions) and Helm are off.
//   - kustomize runs with the CLI's defaults under a gate for its process-global
//     OpenAPI schema (openapi.go explains what breaks and the fix).
//   - post-build: opt-in ${VAR} substitution (substitute.go), a Decryptor on every
//     Secret (decrypt.go; SOPS with age in render/sops), and an encrypted object is
//     always an error.
//   - validation (validate.go): apiVersion, kind and metadata.name present, no two
//     objects with the same group, kind, namespace and name (sources named).
//   - the result is cached (cache.go) under the digest of every input the build
//     observed (inputs.go): file contents, and also directory listings and files
//     found missing, so a file appearing where the build looked invalidates it. A
//     cache hit re-checks those inputs, mostly with one lstat each (fingerprint.go).
package render

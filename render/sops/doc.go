// Package sops decrypts Kubernetes Secrets encrypted with SOPS (github.com/getsops/sops)
// using age keys, as a render.Decryptor.
//
// It reads SOPS's own file format (the `sops` metadata mapping, ENC[AES256_GCM,...]
// values, the age-wrapped data key) and decrypts it with filippo.io/age and the Go
// standard library. It does not use the SOPS library: github.com/getsops/sops/v3
// v3.13.3 cannot be used with only its age key source, because its stores (the YAML
// and JSON parsers) import the sops root package, which imports keyservice, which
// imports every key source (AWS KMS, GCP KMS, Azure Key Vault, HashiCorp Vault,
// Huawei Cloud KMS, PGP). Importing just aes + age + stores/yaml pulls 120 modules and
// 1,014 packages (a 64 MB test binary, ~8 minutes to compile on this project's
// 2-core machines), and `go get` of it upgrades ten modules this repository pins
// (among them github.com/ProtonMail/go-crypto v1.1.6 => v1.4.1, used by go-git,
// github.com/cloudflare/circl, dario.cat/mergo, json-iterator, the OpenTelemetry gRPC
// instrumentation and genproto). filippo.io/age v1.3.2 adds one module
// (filippo.io/hpke) and changes nothing pinned.
//
// The tests check this package against the real SOPS: they encrypt fixtures at test
// time with the SOPS CLI v3.13.3 built from the module proxy by hack/sops.sh (found
// through $DRIFTLESS_SOPS), and one committed fixture made by that CLI runs
// everywhere.
//
// Supported: SOPS files (version 3) whose data key is wrapped for age recipients
// (top-level `age` entries or a single key group), values of every SOPS type (str,
// int, float, bool, bytes, comment), the unencrypted/encrypted suffix and regex
// settings, and optional MAC verification. Not supported: Shamir key groups (more than
// one group) and the other key sources; those are errors, never passed on encrypted.
package sops

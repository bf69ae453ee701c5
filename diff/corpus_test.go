package diff

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/yaml"
)

func TestMain(m *testing.M) { os.Exit(gitopstest.Main(m)) }

// The drift fidelity corpus: each case builds live state on a real control plane by
// applying and patching as real field managers would, then asks for the verdict on a
// desired configuration three ways: the server's own (a dry-run apply of the prepared
// desired object, compared with live), the Differ offline, and the Differ with a
// Confirmer. The case states the verdict it expects; the server must give it, the
// Differ with a Confirmer must always agree, and the offline Differ must agree unless
// it flagged the verdict as a suspect (so a Confirmer would have been asked).

// step is one write that builds live state.
type step struct {
	manager string
	op      string // "apply" (forced server-side apply), "smp" (strategic merge patch), "merge" (JSON merge patch), "scale"
	body    string // YAML for apply, JSON for patches
}

func applyAs(manager, doc string) step { return step{manager: manager, op: "apply", body: doc} }
func ours(doc string) step             { return applyAs("driftless", doc) }
func smp(manager, patch string) step   { return step{manager: manager, op: "smp", body: patch} }
func mergeAs(manager, patch string) step {
	return step{manager: manager, op: "merge", body: patch}
}
func scaleAs(manager string, replicas int) step {
	return step{manager: manager, op: "scale", body: fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)}
}

// corpusCase is one (live state, desired config, expected verdict).
type corpusCase struct {
	name    string
	steps   []step
	desired string
	rules   []IgnoreRule
	drift   bool
}

// allCases gathers the corpus from its files.
func allCases() []corpusCase {
	var out []corpusCase
	out = append(out, workloadCases()...)
	out = append(out, serviceConfigCases()...)
	out = append(out, customResourceCases()...)
	return out
}

type countingConfirmer struct {
	inner Confirmer
	calls atomic.Int64
}

func (c *countingConfirmer) DryRunApply(ctx context.Context, obj *unstructured.Unstructured, fm string) (*unstructured.Unstructured, error) {
	c.calls.Add(1)
	return c.inner.DryRunApply(ctx, obj, fm)
}

type sourceStats struct {
	name                                         string
	src                                          SchemaSource
	ran, offlineAgree, confirmed, suspectsRaised int
	confirmer                                    *countingConfirmer
}

func TestDriftCorpus(t *testing.T) {
	cp := gitopstest.StartControlPlane(t)
	runCorpus(t, gitopstest.ClusterFor(t, cp.Config), true)
}

// TestDriftCorpusFake runs the corpus against gitopstest's in-memory API server, which
// does not default built-in kinds (so some expected verdicts differ): the Differ must
// still agree with that server, which is what tests written against it rely on.
func TestDriftCorpusFake(t *testing.T) {
	runCorpus(t, gitopstest.NewCluster(t), false)
}

func runCorpus(t *testing.T, cl *gitopstest.Cluster, real bool) {
	ctx := context.Background()
	crds := installCorpusCRDs(t, cl, real)
	ns := cl.NewNamespace(t)

	static := NewStaticSchemas()
	for _, crd := range crds {
		require.NoError(t, static.AddCRD(crd))
	}
	server := NewServerConfirmer(cl.Dynamic, cl.Mapper)
	sources := []*sourceStats{{name: "static+CRDs", src: static, confirmer: &countingConfirmer{inner: server}}}
	if real {
		disco, err := NewDiscoverySchemasForConfig(cl.Config, DiscoveryOptions{})
		require.NoError(t, err)
		sources = append([]*sourceStats{{name: "discovery", src: disco, confirmer: &countingConfirmer{inner: server}}}, sources...)
	}

	cases := allCases()
	require.GreaterOrEqual(t, len(cases), 60, "the corpus must have at least 60 cases")
	names := map[string]bool{}
	for _, tc := range cases {
		require.False(t, names[tc.name], "duplicate case %s", tc.name)
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range tc.steps {
				if s.op == "scale" && !real {
					t.Skip("gitopstest's in-memory API server serves no scale subresource")
				}
			}
			desired := parseObj(t, tc.desired, ns)
			for i, s := range tc.steps {
				runStep(t, cl, ns, desired, s, i)
			}
			live, err := cl.Get(desired)
			require.NoError(t, err)
			prepared, err := PrepareDesired(desired, live, tc.rules)
			require.NoError(t, err)
			dry, err := server.DryRunApply(ctx, applyConfig(prepared), DefaultFieldManager)
			require.NoError(t, err)
			for _, s := range sources {
				opts := Options{Schemas: s.src, Rules: tc.rules, NoBuiltinDefaults: !real}
				judge := New(opts)
				verdict, err := judge.Compare(ctx, dry, live)
				require.NoError(t, err)
				if real {
					require.Equal(t, tc.drift, verdict.Drift, "[%s] the server's verdict is not the expected one:\n%s", s.name, verdict.Unified)
				}

				offline, err := New(opts).Diff(ctx, desired, live)
				require.NoError(t, err)
				full := New(opts)
				full.fullPredictionOnly = true
				fullRes, err := full.Diff(ctx, desired, live)
				require.NoError(t, err)
				if fullRes.Suspect == "" {
					require.Equal(t, verdict.Drift, fullRes.Drift, "[%s] the full prediction (no fast path) disagrees with the server:\n%s", s.name, fullRes.Unified)
				}
				if !offline.Drift && fullRes.Drift {
					require.NotEmpty(t, fullRes.Suspect, "[%s] the fast path says in sync, the full prediction drift:\n%s", s.name, fullRes.Unified)
				}
				withConfirmer := opts
				withConfirmer.Confirmer = s.confirmer
				confirmed, err := New(withConfirmer).Diff(ctx, desired, live)
				require.NoError(t, err)
				require.Equal(t, verdict.Drift, confirmed.Drift, "[%s] Differ with Confirmer disagrees with the server (paths %v)\noffline:\n%s\nserver:\n%s",
					s.name, confirmed.Paths, offline.Unified, verdict.Unified)
				s.ran++
				if offline.Suspect != "" {
					s.suspectsRaised++
					t.Logf("[%s] suspect: %s", s.name, offline.Suspect)
					require.True(t, confirmed.Confirmed, "[%s] a suspect verdict must be confirmed", s.name)
				}
				if confirmed.Confirmed {
					s.confirmed++
				}
				if offline.Drift == verdict.Drift {
					s.offlineAgree++
				} else {
					require.NotEmpty(t, offline.Suspect, "[%s] offline verdict %v disagrees with the server's %v and was not flagged (paths %v)\noffline:\n%s\nserver:\n%s",
						s.name, offline.Drift, verdict.Drift, offline.Paths, offline.Unified, verdict.Unified)
				}
				if !offline.Drift {
					require.Empty(t, offline.Unified, "[%s] no drift, yet a diff", s.name)
				}
			}
		})
	}
	for _, s := range sources {
		if s.ran == 0 {
			continue
		}
		t.Logf("drift corpus [%s, %s]: %d cases, offline agreement %d/%d (%.1f%%), suspects %d, confirmer calls %d, agreement with confirmer 100%%",
			map[bool]string{true: "real control plane", false: "in-memory fake"}[real], s.name, s.ran, s.offlineAgree, s.ran,
			100*float64(s.offlineAgree)/float64(s.ran), s.suspectsRaised, s.confirmer.calls.Load())
	}
}

// runStep performs one write: an apply of the step's document, or a patch of the
// case's object (target).
func runStep(t *testing.T, cl *gitopstest.Cluster, ns string, target *unstructured.Unstructured, s step, i int) {
	t.Helper()
	ctx := context.Background()
	switch s.op {
	case "apply":
		obj := parseObj(t, s.body, ns)
		_, err := cl.TryApply(obj, s.manager, true)
		require.NoError(t, err, "step %d: apply as %s", i, s.manager)
		return
	}
	ri, err := cl.Resource(target)
	require.NoError(t, err)
	var sub []string
	pt := types.MergePatchType
	switch s.op {
	case "smp":
		pt = types.StrategicMergePatchType
	case "scale":
		sub = []string{"scale"}
	}
	_, err = ri.Patch(ctx, target.GetName(), pt, []byte(s.body), metav1.PatchOptions{FieldManager: s.manager}, sub...)
	require.NoError(t, err, "step %d: %s patch as %s", i, s.op, s.manager)
}

func parseObj(t testing.TB, doc, ns string) *unstructured.Unstructured {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(doc))
	require.NoError(t, err, doc)
	u := &unstructured.Unstructured{}
	require.NoError(t, u.UnmarshalJSON(js), doc)
	if u.GetNamespace() == "" && u.GetKind() != "Namespace" && !strings.HasSuffix(u.GetKind(), "Definition") {
		u.SetNamespace(ns)
	}
	return u
}

// installCorpusCRDs creates the corpus CRDs and waits until they are served and
// published in the OpenAPI v3 index.
func installCorpusCRDs(t *testing.T, cl *gitopstest.Cluster, openAPI bool) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range []string{widgetCRD, gadgetCRD} {
		crd := &unstructured.Unstructured{}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &crd.Object))
		live := cl.Apply(t, crd, "corpus-setup", true)
		out = append(out, live)
	}
	cl.Mapper.Reset()
	if !openAPI {
		return out
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cl.Config)
	require.NoError(t, err)
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		paths, err := dc.OpenAPIV3().Paths()
		if err != nil {
			return false, nil
		}
		_, ok := paths["apis/corpus.driftless.dev/v1"]
		return ok, nil
	})
	require.NoError(t, err, "corpus CRDs never appeared in /openapi/v3")
	cl.Mapper.Reset()
	return out
}

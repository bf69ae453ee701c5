package source

import (
	"context"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/go-logr/logr"
)

// resolved is the outcome of Resolve: the commit and the full ref name that reaches it
// ("" for an exact commit).
type resolved struct {
	rev     Revision
	refName string
}

// Resolve resolves ref to a commit of repo with one ls-remote round trip and no pack.
// An exact commit is returned as is, without any network call: whether the remote has
// it is for Checkout to find out.
func Resolve(ctx context.Context, repo Repository, ref Ref) (Revision, error) {
	res, err := resolve(ctx, repo, ref)
	return res.rev, err
}

func resolve(ctx context.Context, repo Repository, ref Ref) (resolved, error) {
	if err := ref.Validate(); err != nil {
		return resolved{}, newError("resolve", &repo, ref.String(), ErrInvalid, err)
	}
	if ref.Commit != "" {
		if _, err := normalize(repo); err != nil {
			return resolved{}, err
		}
		return resolved{rev: Revision(strings.ToLower(ref.Commit))}, nil
	}
	adv, err := lsRemote(ctx, repo)
	if err != nil {
		return resolved{}, newError("resolve", &repo, ref.String(), nil, err)
	}
	commit, name, err := adv.match(ref)
	if err != nil {
		return resolved{}, newError("resolve", &repo, ref.String(), ErrUnknownRef, err)
	}
	logr.FromContextOrDiscard(ctx).V(2).Info("ls-remote", "repo", RedactURL(repo.URL), "ref", ref.String(), "commit", commit, "name", name)
	return resolved{rev: Revision(commit), refName: name}, nil
}

// lsRemote lists the remote's refs: one ref advertisement (one HTTP GET, one SSH or
// file session), never a pack.
func lsRemote(ctx context.Context, repo Repository) (*advertised, error) {
	tc, err := newTransportConfig(repo)
	if err != nil {
		return nil, err
	}
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{tc.url}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{
		Auth:          tc.auth,
		CABundle:      tc.caBundle,
		PeelingOption: git.AppendPeeled,
	})
	if err != nil {
		return nil, err
	}
	adv := &advertised{refs: map[string]string{}, peeled: map[string]string{}}
	var head *plumbing.Reference
	for _, r := range refs {
		name := r.Name().String()
		switch {
		case name == "HEAD":
			head = r
		case strings.HasSuffix(name, "^{}"):
			adv.peeled[strings.TrimSuffix(name, "^{}")] = r.Hash().String()
		case r.Type() == plumbing.HashReference:
			adv.refs[name] = r.Hash().String()
		}
	}
	if head != nil {
		if head.Type() == plumbing.SymbolicReference {
			adv.head = head.Target().String()
			adv.headHash, _ = adv.commitOf(adv.head)
		} else {
			adv.headHash = head.Hash().String()
		}
	}
	return adv, nil
}

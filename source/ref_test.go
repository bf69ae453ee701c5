package source_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/driftless-dev/driftless/source"
)

func TestParseRef(t *testing.T) {
	sha := "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		in      string
		want    source.Ref
		wantErr bool
	}{
		{"", source.Ref{}, false},
		{"main", source.Ref{Name: "main"}, false},
		{"v1.2.3", source.Ref{Name: "v1.2.3"}, false},
		{"refs/pull/7/head", source.Ref{Name: "refs/pull/7/head"}, false},
		{sha, source.Ref{Commit: sha}, false},
		{strings.ToUpper(sha), source.Ref{Commit: sha}, false},
		{"^1.2", source.Ref{SemVer: "^1.2"}, false},
		{">=1.0.0 <2", source.Ref{SemVer: ">=1.0.0 <2"}, false},
		{"1.x", source.Ref{SemVer: "1.x"}, false},
		{"fix-xyz", source.Ref{Name: "fix-xyz"}, false},
		{"branch:release-1.x", source.Ref{Branch: "release-1.x"}, false},
		{"tag:v1.0.0", source.Ref{Tag: "v1.0.0"}, false},
		{"semver:~1.4", source.Ref{SemVer: "~1.4"}, false},
		{"commit:" + sha, source.Ref{Commit: sha}, false},
		{"ref:refs/merge-requests/1/head", source.Ref{Name: "refs/merge-requests/1/head"}, false},
		{"commit:abc", source.Ref{}, true},
		{"semver:not a range", source.Ref{}, true},
		{"branch:", source.Ref{}, true},
		{"color:blue", source.Ref{}, true},
		{"branch:a..b", source.Ref{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := source.ParseRef(tt.in)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRefValidateRejectsTwoKinds(t *testing.T) {
	err := source.Ref{Branch: "main", Commit: "0123456789abcdef0123456789abcdef01234567"}.Validate()
	assert.ErrorContains(t, err, "at most one")
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://user:pa55word@github.com/org/repo.git", "https://user:redacted@github.com/org/repo.git"},
		{"https://token@github.com/org/repo.git", "https://token@github.com/org/repo.git"},
		{"https://github.com/org/repo.git?access_token=abc", "https://github.com/org/repo.git?redacted"},
		{"ssh://git@github.com/org/repo.git", "ssh://git@github.com/org/repo.git"},
		{"git@github.com:org/repo.git", "git@github.com:org/repo.git"},
		{"user:pa55word@host:org/repo.git", "user:redacted@host:org/repo.git"},
		{"file:///tmp/repo", "file:///tmp/repo"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, source.RedactURL(tt.in), tt.in)
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"", "main", "v1.2.3", "^1.2", "branch:x", "commit:0123456789abcdef0123456789abcdef01234567", "refs/pull/1/head", "1.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := source.ParseRef(s)
		if err != nil {
			return
		}
		// Whatever parses is a valid ref and survives a round trip through String.
		require.NoError(t, r.Validate())
		assert.NotEmpty(t, r.String())
	})
}

func FuzzRedactURL(f *testing.F) {
	f.Add("https", "user", "s3cret", "example.com/repo.git")
	f.Add("http", "a", "b:c@d", "host:8080/x")
	f.Fuzz(func(t *testing.T, scheme, user, pass, rest string) {
		if len(pass) < 3 || scheme == "" {
			return
		}
		u := &url.URL{Scheme: scheme, User: url.UserPassword(user, pass), Host: "h", Path: "/" + rest}
		raw := u.String()
		if _, err := url.Parse(raw); err != nil {
			return
		}
		got := source.RedactURL(raw)
		assert.NotContains(t, got, url.UserPassword(user, pass).String(), "userinfo with password survives in %q", got)
	})
}

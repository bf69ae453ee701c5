package gitopstest

import (
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// serveDiscovery answers the legacy discovery documents (/api, /apis, /api/v1,
// /apis/G, /apis/G/V). Clients that ask for aggregated discovery get the legacy form and
// fall back to it, as they do with any server that does not aggregate.
func (s *APIServer) serveDiscovery(w http.ResponseWriter, r *http.Request, parts []string) bool {
	if r.Method != http.MethodGet {
		return false
	}
	switch {
	case len(parts) == 1 && parts[0] == "api":
		writeJSON(w, http.StatusOK, metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
			Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
				{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host},
			},
		})
	case len(parts) == 1 && parts[0] == "apis":
		list := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		groups, versions := s.catalog.groupVersions()
		for _, g := range groups {
			if g == "" {
				continue
			}
			list.Groups = append(list.Groups, apiGroup(g, versions[g]))
		}
		writeJSON(w, http.StatusOK, list)
	case len(parts) == 2 && parts[0] == "apis":
		_, versions := s.catalog.groupVersions()
		vs, ok := versions[parts[1]]
		if !ok {
			return false
		}
		g := apiGroup(parts[1], vs)
		g.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
		writeJSON(w, http.StatusOK, g)
	case len(parts) == 2 && parts[0] == "api", len(parts) == 3 && parts[0] == "apis":
		gv := schema.GroupVersion{Version: parts[len(parts)-1]}
		if parts[0] == "apis" {
			gv.Group = parts[1]
		}
		list, ok := s.catalog.resourceList(gv)
		if !ok {
			return false
		}
		writeJSON(w, http.StatusOK, list)
	default:
		return false
	}
	return true
}

func apiGroup(group string, versions []string) metav1.APIGroup {
	g := metav1.APIGroup{Name: group}
	for _, v := range versions {
		g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: group + "/" + v, Version: v})
	}
	g.PreferredVersion = g.Versions[0]
	return g
}

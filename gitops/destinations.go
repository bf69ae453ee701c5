package gitops

import (
	"fmt"
	"sort"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// KubeconfigDestinations resolves Application destinations from a kubeconfig file, for
// ReconcilerOptions.Destinations: destination.name is a context name, and
// destination.server matches the context whose cluster has that server URL.
func KubeconfigDestinations(path string) func(Destination) (*rest.Config, error) {
	return func(d Destination) (*rest.Config, error) {
		raw, err := clientcmd.LoadFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
		}
		context := d.Name
		if context == "" {
			var matches []string
			for name, c := range raw.Contexts {
				if cl, ok := raw.Clusters[c.Cluster]; ok && cl.Server == d.Server {
					matches = append(matches, name)
				}
			}
			sort.Strings(matches)
			switch len(matches) {
			case 0:
				return nil, fmt.Errorf("kubeconfig %s: no context for server %s", path, d.Server)
			case 1:
				context = matches[0]
			default:
				return nil, fmt.Errorf("kubeconfig %s: several contexts for server %s (%v): name one in destination.name", path, d.Server, matches)
			}
		}
		if _, ok := raw.Contexts[context]; !ok {
			return nil, fmt.Errorf("kubeconfig %s: no context %q", path, context)
		}
		return clientcmd.NewNonInteractiveClientConfig(*raw, context, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	}
}

package gitopstest

import "strings"

// SeedLayout returns the files of the repository layout driftless is built for:
//
//	apps/base/{deployment,service,kustomization}.yaml           payment-service
//	apps/overlays/production-oslo/{kustomization,patch-replicas}.yaml   5 replicas, 2Gi/1000m limits
//	apps/overlays/staging-bergen/{kustomization,patch-resources}.yaml   smaller requests
//	cluster-config/{namespaces,quotas}.yaml                     the namespaces and their quotas
//	projects/ecommerce-backend.yaml                             the AppProject
//	applications/*.yaml                                          one Application per overlay
//
// repoURL is written into the Applications and the project's sourceRepos.
func SeedLayout(repoURL string) map[string]string {
	files := map[string]string{
		"apps/base/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deployment.yaml
- service.yaml
labels:
- pairs:
    app.kubernetes.io/part-of: ecommerce
`,
		"apps/base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: payment-service
spec:
  replicas: 2
  selector:
    matchLabels:
      app: payment-service
  template:
    metadata:
      labels:
        app: payment-service
    spec:
      containers:
      - name: payment-service
        image: registry.example.com/ecommerce/payment-service:1.4.2
        ports:
        - name: http
          containerPort: 8080
        resources:
          requests:
            cpu: 250m
            memory: 256Mi
          limits:
            cpu: 500m
            memory: 512Mi
`,
		"apps/base/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: payment-service
spec:
  selector:
    app: payment-service
  ports:
  - name: http
    port: 80
    targetPort: http
`,
		"apps/overlays/production-oslo/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: payments-oslo
resources:
- ../../base
patches:
- path: patch-replicas.yaml
`,
		"apps/overlays/production-oslo/patch-replicas.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: payment-service
spec:
  replicas: 5
  template:
    spec:
      containers:
      - name: payment-service
        resources:
          limits:
            cpu: 1000m
            memory: 2Gi
`,
		"apps/overlays/staging-bergen/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: payments-bergen
resources:
- ../../base
patches:
- path: patch-resources.yaml
`,
		"apps/overlays/staging-bergen/patch-resources.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: payment-service
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: payment-service
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
`,
		"cluster-config/namespaces.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: payments-oslo
  labels:
    environment: production
---
apiVersion: v1
kind: Namespace
metadata:
  name: payments-bergen
  labels:
    environment: staging
`,
		"cluster-config/quotas.yaml": `apiVersion: v1
kind: ResourceQuota
metadata:
  name: compute
  namespace: payments-oslo
spec:
  hard:
    requests.cpu: "8"
    requests.memory: 16Gi
    limits.cpu: "16"
    limits.memory: 32Gi
---
apiVersion: v1
kind: ResourceQuota
metadata:
  name: compute
  namespace: payments-bergen
spec:
  hard:
    requests.cpu: "2"
    requests.memory: 4Gi
`,
		"projects/ecommerce-backend.yaml": `apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: ecommerce-backend
  namespace: argocd
spec:
  description: Payment and order services
  sourceRepos:
  - REPO
  destinations:
  - server: https://kubernetes.default.svc
    namespace: payments-*
  - server: https://kubernetes.default.svc
    namespace: argocd
  clusterResourceWhitelist:
  - group: ""
    kind: Namespace
`,
	}
	for name, spec := range map[string][3]string{
		"cluster-config":         {"cluster-config", "payments-oslo", "false"},
		"payment-service-oslo":   {"apps/overlays/production-oslo", "payments-oslo", "true"},
		"payment-service-bergen": {"apps/overlays/staging-bergen", "payments-bergen", "true"},
	} {
		files["applications/"+name+".yaml"] = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: ` + name + `
  namespace: argocd
spec:
  project: ecommerce-backend
  source:
    repoURL: REPO
    targetRevision: HEAD
    path: ` + spec[0] + `
  destination:
    server: https://kubernetes.default.svc
    namespace: ` + spec[1] + `
  syncPolicy:
    automated:
      prune: true
      selfHeal: ` + spec[2] + `
`
	}
	for k, v := range files {
		files[k] = strings.ReplaceAll(v, "REPO", repoURL)
	}
	return files
}

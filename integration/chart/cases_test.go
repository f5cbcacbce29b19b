package chart

// valueSet is one way an operator might install the broker chart. Each set
// gets its own release and namespace, so every set's objects coexist on the
// one apiserver.
type valueSet struct {
	name      string
	release   string
	namespace string
	values    string
	// priorityClass and serviceMonitor objects the set refers to, created
	// by the test before applying.
	priorityClass string
}

// brokerSets are the default values and the non-default sets the chart
// author used, plus a non-root install as values.yaml describes it.
var brokerSets = []valueSet{
	{name: "defaults", release: "secrets-broker", namespace: "secrets-broker"},
	{
		name: "tcp-tls-vaultca-socketgroup", release: "sb-tls", namespace: "sb-tls",
		values: `
tcp: {enabled: true, port: 8443}
tls: {enabled: true, secretName: secrets-broker-tls}
vault:
  addr: https://vault.example.internal:8200
  caCert: {configMapName: "", secretName: vault-ca, key: ca.pem}
socket: {mode: "0660", group: 2000}
`,
	},
	{
		name: "servicemonitor-priority-digest-caconfigmap", release: "sb-mon", namespace: "sb-mon",
		priorityClass: "sb-node-critical",
		values: `
serviceMonitor:
  enabled: true
  namespace: sb-monitoring
  labels: {release: prometheus}
  interval: 15s
  scrapeTimeout: 5s
priorityClassName: sb-node-critical
image:
  digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
vault:
  caCert: {configMapName: vault-ca, secretName: "", key: ca.crt}
`,
	},
	{
		name: "node-attestation-nslabel-notcp-allowlist", release: "sb-node", namespace: "sb-node",
		values: `
broker: {attestationMode: node}
networkPolicy:
  clientNamespaceLabel: {key: example.com/broker-client, value: "yes"}
tcp: {enabled: false}
policy:
  - k8s_ns: tokenizer-dp
    k8s_sa: tokenizer-dp-sa
    vault_role: tokenizer-dp-role
    allow:
      - ops: [read, list, versions]
        paths: ["kv/tokenizer/data-plane/"]
  - k8s_ns: tokenizer-cg
    k8s_sa: tokenizer-cg-sa
    vault_role: tokenizer-cg-role
    auth_mount: kubernetes-tokenizer
    allow:
      - ops: [write, patch, delete]
        paths: ["kv/tokenizer/crypto-gen/keys"]
`,
	},
	{
		name: "nonroot-custom-label-tcp", release: "broker", namespace: "sb-nonroot",
		values: `
fullnameOverride: node-broker
networkPolicy:
  clientNamespaceLabel: {key: team.example.com/secrets, value: tokenizer}
  metricsFrom: []
socket: {hostPathType: Directory}
podSecurityContext:
  runAsUser: 65532
  runAsGroup: 65532
  runAsNonRoot: true
  seccompProfile: {type: RuntimeDefault}
securityContext:
  allowPrivilegeEscalation: false
  privileged: false
  readOnlyRootFilesystem: true
  runAsUser: 65532
  runAsGroup: 65532
  runAsNonRoot: true
  capabilities: {drop: [ALL]}
  seccompProfile: {type: RuntimeDefault}
broker:
  logLevel: debug
  rateLimit: 0
  extraArgs: ["--vault-timeout=5s"]
`,
	},
}

// badBrokerSets must be refused by values.schema.json before any template
// runs.
var badBrokerSets = []struct{ name, values string }{
	{"unknown top-level key", `replicas: 3`},
	{"unknown attestation mode", `broker: {attestationMode: lax}`},
	{"tls without secret", `tls: {enabled: true, secretName: ""}`},
	{"tls with tcp off", `{tls: {enabled: true, secretName: s}, tcp: {enabled: false}}`},
	{"both vault CA sources", `vault: {caCert: {configMapName: a, secretName: b}}`},
	{"vault addr without scheme", `vault: {addr: "vault:8200"}`},
	{"unknown allow op", "policy: [{k8s_ns: a, k8s_sa: b, vault_role: c, allow: [{ops: [sudo], paths: [kv/]}]}]"},
	{"empty allow list", "policy: [{k8s_ns: a, k8s_sa: b, vault_role: c, allow: []}]"},
	{"absolute allow path", "policy: [{k8s_ns: a, k8s_sa: b, vault_role: c, allow: [{ops: [read], paths: [/kv/]}]}]"},
	{"policy entry without role", "policy: [{k8s_ns: a, k8s_sa: b}]"},
	{"bad namespace in policy", "policy: [{k8s_ns: Tokenizer_DP, k8s_sa: b, vault_role: c}]"},
	{"role ending in dash", "policy: [{k8s_ns: a, k8s_sa: b, vault_role: role-}]"},
	{"auth mount with dot segment", "policy: [{k8s_ns: a, k8s_sa: b, vault_role: c, auth_mount: a/../b}]"},
	{"negative socket group", `socket: {group: -1}`},
	{"socket mode not a string", `socket: {mode: 438}`},
	{"bad hostPath type", `socket: {hostPathType: Socket}`},
	{"port out of range", `tcp: {port: 70000}`},
	{"bad duration", `broker: {requestTimeout: 30}`},
	{"bad log level", `broker: {logLevel: trace}`},
	{"extra arg not a flag", `broker: {extraArgs: ["rm -rf"]}`},
	{"unknown key in tls", `tls: {enabled: false, secretName: "", certKey: tls.crt, keyKey: tls.key, ca: x}`},
}

// exampleSets are values of the example consumer chart.
var exampleSets = []struct {
	name, release, values string
	transport             string
}{
	{name: "socket", release: "tokenizer-dp", transport: "socket"},
	{name: "tcp", release: "tokenizer-dp-tcp", transport: "tcp", values: `
secretsBrokerClient:
  transport: tcp
  expirationSeconds: 7200
`},
}

// badExampleSets must fail the render (the library chart's checks).
var badExampleSets = []struct{ name, values, want string }{
	{"unknown transport", "secretsBrokerClient: {transport: grpc}", "transport"},
	{"token lifetime below kubelet minimum", "secretsBrokerClient: {expirationSeconds: 300}", "expirationSeconds"},
	{"bad hostPath type", "secretsBrokerClient: {socketHostPathType: Socket}", "socketHostPathType"},
}

{{/*
Chart name, truncated to 63 characters (a DNS label).
*/}}
{{- define "secrets-broker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified name. Release "secrets-broker" of chart "secrets-broker" gives
"secrets-broker", so the Service is the ADR's
secrets-broker.secrets-broker.svc.cluster.local when installed in namespace
secrets-broker.
*/}}
{{- define "secrets-broker.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "secrets-broker.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "secrets-broker.labels" -}}
helm.sh/chart: {{ include "secrets-broker.chart" . }}
{{ include "secrets-broker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels: immutable on the DaemonSet, so keep them to name + instance.
*/}}
{{- define "secrets-broker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "secrets-broker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "secrets-broker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "secrets-broker.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: a digest wins over a tag; the tag defaults to appVersion.
*/}}
{{- define "secrets-broker.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Where the policy ConfigMap, the TLS Secret and the Vault CA are mounted. Each
is its own directory (never a subPath): kubelet updates a ConfigMap/Secret
volume by swapping the ..data symlink, and the broker watches the directory.
*/}}
{{- define "secrets-broker.policyDir" -}}/etc/secrets-broker{{- end }}
{{- define "secrets-broker.tlsDir" -}}/etc/secrets-broker-tls{{- end }}
{{- define "secrets-broker.vaultCADir" -}}/etc/secrets-broker-vault-ca{{- end }}

{{/*
Full socket path inside the container (the hostPath dir is mounted at the
same path it has on the host).
*/}}
{{- define "secrets-broker.socketPath" -}}
{{- printf "%s/%s" (trimSuffix "/" .Values.socket.hostDir) .Values.socket.name }}
{{- end }}

{{/*
Scheme of the node-local port.
*/}}
{{- define "secrets-broker.scheme" -}}
{{- if .Values.tls.enabled }}https{{ else }}http{{ end }}
{{- end }}

{{/*
secrets-broker-client.env: the app container's env, to include under
containers[].env:
  env:
    {{- include "secrets-broker-client.env" . | nindent 12 }}
SECRETS_BROKER_URL is unix://<socketDir>/<socketName> for transport "socket"
and the node-local Service URL for "tcp"; SECRETS_BROKER_TOKEN_PATH is the
projected token file, which kubelet rewrites before it expires: read it for
every request (or at least on 401), never once at start.
*/}}
{{- define "secrets-broker-client.env" -}}
{{- $c := include "secrets-broker-client.config" . | fromYaml -}}
- name: SECRETS_BROKER_URL
{{- if eq $c.transport "socket" }}
  value: {{ printf "unix://%s/%s" (trimSuffix "/" $c.socketDir) $c.socketName | quote }}
{{- else }}
  value: {{ $c.url | quote }}
{{- end }}
- name: SECRETS_BROKER_TOKEN_PATH
  value: {{ printf "%s/token" (trimSuffix "/" $c.tokenMountPath) | quote }}
{{- end -}}

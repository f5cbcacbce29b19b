{{/*
secrets-broker-client.config: the effective client settings as YAML, from the
defaults below overlaid with the consuming chart's .Values.secretsBrokerClient.
Called with the chart's root context. Other templates read it with
  {{- $c := include "secrets-broker-client.config" . | fromYaml }}
and fail the render on an unknown transport.
*/}}
{{- define "secrets-broker-client.config" -}}
{{- $defaults := dict
  "transport" "socket"
  "audience" "secrets-broker"
  "expirationSeconds" 3600
  "tokenMountPath" "/var/run/secrets/broker-token"
  "socketDir" "/var/run/secrets-broker"
  "socketName" "broker.sock"
  "socketHostPathType" "DirectoryOrCreate"
  "url" "http://secrets-broker.secrets-broker.svc.cluster.local:8080"
  "volumeNamePrefix" "secrets-broker"
-}}
{{- $user := dict -}}
{{- if .Values.secretsBrokerClient -}}
{{- $user = .Values.secretsBrokerClient -}}
{{- end -}}
{{- $c := mergeOverwrite $defaults (deepCopy $user) -}}
{{- if not (has $c.transport (list "socket" "tcp")) -}}
{{- fail (printf "secretsBrokerClient.transport must be \"socket\" or \"tcp\", not %q" (toString $c.transport)) -}}
{{- end -}}
{{- if lt (int64 $c.expirationSeconds) 600 -}}
{{- fail (printf "secretsBrokerClient.expirationSeconds must be at least 600 (kubelet's minimum), not %v" $c.expirationSeconds) -}}
{{- end -}}
{{- if not (has $c.socketHostPathType (list "DirectoryOrCreate" "Directory")) -}}
{{- fail (printf "secretsBrokerClient.socketHostPathType must be \"DirectoryOrCreate\" or \"Directory\", not %q" (toString $c.socketHostPathType)) -}}
{{- end -}}
{{- toYaml $c -}}
{{- end -}}

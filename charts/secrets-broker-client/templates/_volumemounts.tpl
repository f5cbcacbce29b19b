{{/*
secrets-broker-client.volumeMounts: the app container's mounts, to include
under containers[].volumeMounts:
  volumeMounts:
    {{- include "secrets-broker-client.volumeMounts" . | nindent 12 }}
*/}}
{{- define "secrets-broker-client.volumeMounts" -}}
{{- $c := include "secrets-broker-client.config" . | fromYaml -}}
- name: {{ $c.volumeNamePrefix }}-token
  mountPath: {{ $c.tokenMountPath }}
  readOnly: true
{{- if eq $c.transport "socket" }}
- name: {{ $c.volumeNamePrefix }}-socket
  mountPath: {{ $c.socketDir }}
  readOnly: true
{{- end }}
{{- end -}}

{{/*
secrets-broker-client.volumes: pod volumes, to include under spec.volumes:
  volumes:
    {{- include "secrets-broker-client.volumes" . | nindent 4 }}
The projected token is bound to the pod (kubelet requests it for this pod)
and carries audience "secrets-broker", so it is useless to the apiserver and
to any other audience. With transport "socket" the node's socket directory is
added; it is mounted read-only (connecting to a socket needs no write access
to the mount) and as a directory, so a new broker's socket, renamed into
place during a rollout, is seen at once.
*/}}
{{- define "secrets-broker-client.volumes" -}}
{{- $c := include "secrets-broker-client.config" . | fromYaml -}}
- name: {{ $c.volumeNamePrefix }}-token
  projected:
    sources:
      - serviceAccountToken:
          path: token
          audience: {{ $c.audience | quote }}
          expirationSeconds: {{ int64 $c.expirationSeconds }}
{{- if eq $c.transport "socket" }}
- name: {{ $c.volumeNamePrefix }}-socket
  hostPath:
    path: {{ $c.socketDir }}
    type: {{ $c.socketHostPathType }}
{{- end }}
{{- end -}}

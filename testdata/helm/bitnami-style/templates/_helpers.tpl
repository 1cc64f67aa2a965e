{{- define "image" -}}
{{ .registry }}/{{ .repository }}:{{ .tag }}{{ with .digest }}@{{ . }}{{ end }}
{{- end -}}

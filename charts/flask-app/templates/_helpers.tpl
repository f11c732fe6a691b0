{{/* Names, labels, and the settings-to-environment mapping. */}}

{{- define "flask-app.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "flask-app.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "flask-app.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{ include "flask-app.selectorLabels" . }}
{{- end }}

{{- define "flask-app.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "flask-app.fullname" .)) }}
{{- end }}

{{- define "flask-app.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* One setting as its variable's text: lists joined by commas (colons for *_dirs), numbers as JSON. */}}
{{- define "flask-app.envValue" -}}
{{- $v := .value }}
{{- if kindIs "slice" $v }}
{{- join (ternary ":" "," (hasSuffix "dirs" .key)) $v }}
{{- else if or (kindIs "float64" $v) (kindIs "int64" $v) (kindIs "int" $v) }}
{{- toJson $v }}
{{- else }}
{{- toString $v }}
{{- end }}
{{- end }}

{{- define "flask-app.env" -}}
- name: SIEM_HOST
  value: "0.0.0.0"
{{- range $key, $value := .Values.settings }}
{{- if not (kindIs "invalid" $value) }}
- name: {{ printf "SIEM_%s" (upper $key) }}
  value: {{ include "flask-app.envValue" (dict "key" $key "value" $value) | quote }}
{{- end }}
{{- end }}
{{- range $key := .Values.secretSettings }}
- name: {{ printf "SIEM_%s_FILE" (upper $key) }}
  value: {{ printf "/etc/flask-app/secrets/%s" $key | quote }}
{{- end }}
{{- end }}

{{- define "flask-app.port" -}}
{{- .Values.settings.flask_app_port | default 5000 | int }}
{{- end }}

{{/* Names, labels, and the settings-to-environment mapping shared by every template. */}}

{{- define "siem.components" -}}
ingest webhook correlator sinks
{{- end }}

{{- define "siem.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* A component's resource name: <fullname>-<component>. Takes (dict "root" $ "name" "ingest"). */}}
{{- define "siem.componentName" -}}
{{- printf "%s-%s" (include "siem.fullname" .root) .name }}
{{- end }}

{{- define "siem.chartLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: siem
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* Labels of a release-wide resource (Secret, default-deny policy, monitoring). */}}
{{- define "siem.commonLabels" -}}
{{ include "siem.chartLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Takes (dict "root" $ "name" "ingest"). */}}
{{- define "siem.selectorLabels" -}}
app.kubernetes.io/name: siem-{{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* Labels of a component's resource. Takes (dict "root" $ "name" "ingest"). */}}
{{- define "siem.labels" -}}
{{ include "siem.chartLabels" .root }}
{{ include "siem.selectorLabels" . }}
{{- end }}

{{/* Every pod of the release, whatever its component: what the default-deny NetworkPolicy selects. */}}
{{- define "siem.releaseSelector" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: siem
{{- end }}

{{- define "siem.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "siem.fullname" .)) }}
{{- end }}

{{/* Takes (dict "root" $ "name" "ingest"). */}}
{{- define "siem.image" -}}
{{- $c := index .root.Values .name }}
{{- $image := printf "%s/%s:%s" .root.Values.image.registry $c.image.repository (.root.Values.image.tag | default .root.Chart.AppVersion) }}
{{- if $c.image.digest }}{{ printf "%s@%s" $image $c.image.digest }}{{ else }}{{ $image }}{{ end }}
{{- end }}

{{/* A component's settings: the shared ones, its own over them. Takes (dict "root" $ "name" "ingest"); YAML. */}}
{{- define "siem.settings" -}}
{{- $c := index .root.Values .name }}
{{- toYaml (mergeOverwrite (deepCopy (.root.Values.settings | default dict)) (deepCopy ($c.settings | default dict))) }}
{{- end }}

{{/* The port a component listens on, from its `<name>_port` setting. Takes (dict "root" $ "name" "ingest"). */}}
{{- define "siem.port" -}}
{{- $settings := include "siem.settings" . | fromYaml }}
{{- index $settings (printf "%s_port" .name) | required (printf "%s.settings.%s_port is required" .name .name) | int }}
{{- end }}

{{/*
One setting as its environment variable's text, as the settings classes parse it: lists joined with commas (colons
for *_dirs), numbers as JSON (Helm reads every YAML number as a float: toString would print 1e+06).
Takes (dict "key" "ingest_tokens" "value" ...).
*/}}
{{- define "siem.envValue" -}}
{{- $v := .value }}
{{- if kindIs "slice" $v }}
{{- join (ternary ":" "," (hasSuffix "dirs" .key)) $v }}
{{- else if or (kindIs "float64" $v) (kindIs "int64" $v) (kindIs "int" $v) }}
{{- toJson $v }}
{{- else }}
{{- toString $v }}
{{- end }}
{{- end }}

{{/* A component container's env: SIEM_HOST, then every setting, then a _FILE for every secret setting. */}}
{{- define "siem.env" -}}
{{- $c := index .root.Values .name }}
{{- $settings := include "siem.settings" . | fromYaml -}}
- name: SIEM_HOST
  value: "0.0.0.0"
{{- range $key, $value := $settings }}
{{- if not (kindIs "invalid" $value) }}
- name: {{ printf "SIEM_%s" (upper $key) }}
  value: {{ include "siem.envValue" (dict "key" $key "value" $value) | quote }}
{{- end }}
{{- end }}
{{- range $key := $c.secretSettings }}
- name: {{ printf "SIEM_%s_FILE" (upper $key) }}
  value: {{ printf "/etc/siem/secrets/%s" $key | quote }}
{{- end }}
{{- end }}

{{/* http or https: ingest speaks TLS on its HTTP port once it has a certificate. Takes (dict "root" $ "name" …). */}}
{{- define "siem.scheme" -}}
{{- $settings := include "siem.settings" . | fromYaml }}
{{- ternary "HTTPS" "HTTP" (and (eq .name "ingest") (not (empty (index $settings "ingest_tls_cert_file")))) }}
{{- end }}

{{/* Rule files bundled with the chart, as (ConfigMap key -> path under the mount). */}}
{{- define "siem.bundledRules" -}}
{{- $rules := dict }}
{{- range $path, $_ := .Files.Glob "rules/**.{yml,yaml}" }}
{{- $relative := trimPrefix "rules/" $path }}
{{- $_ := set $rules (regexReplaceAll "[^-._a-zA-Z0-9]" $relative "__") $relative }}
{{- end }}
{{- toYaml $rules }}
{{- end }}

{{/* Release-scoped name: "<release>-drift-monitor", or the release name when it says drift-monitor. */}}
{{- define "drift-monitor.fullname" -}}
{{- if contains "drift-monitor" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-drift-monitor" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "drift-monitor.selectorLabels" -}}
app.kubernetes.io/name: drift-monitor
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "drift-monitor.labels" -}}
{{ include "drift-monitor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The config file: .Values.config, else the chart's copy of deploy/config/drift-monitor.yaml. */}}
{{- define "drift-monitor.config" -}}
{{- if .Values.config -}}
{{ toYaml .Values.config }}
{{- else -}}
{{ .Files.Get "files/config.yaml" }}
{{- end -}}
{{- end -}}

{{- define "drift-monitor.secretName" -}}
{{- if .Values.webhookSecret.existingSecret -}}
{{- .Values.webhookSecret.existingSecret -}}
{{- else -}}
{{- printf "%s-webhook" (include "drift-monitor.fullname" .) -}}
{{- end -}}
{{- end -}}

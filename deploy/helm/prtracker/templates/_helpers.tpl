{{/* The chart's name, or nameOverride. */}}
{{- define "prtracker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the release name, with the chart's name unless it already holds it. */}}
{{- define "prtracker.fullname" -}}
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

{{- define "prtracker.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "prtracker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "prtracker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "prtracker.labels" -}}
helm.sh/chart: {{ include "prtracker.chart" . }}
{{ include "prtracker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: prtracker
{{- end }}

{{- define "prtracker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "prtracker.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Where the Lease lives, and where target clusters' Secrets do: the release namespace unless set. */}}
{{- define "prtracker.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.leaseNamespace }}
{{- end }}
{{- define "prtracker.clusterSecretsNamespace" -}}
{{- default .Release.Namespace .Values.operator.clusterSecretsNamespace }}
{{- end }}

{{/* The file a webhook secret is mounted as: webhook-secret, then webhook-secret-1, -2, ... */}}
{{- define "prtracker.webhookSecretFile" -}}
{{- if eq (int .) 0 }}webhook-secret{{ else }}webhook-secret-{{ . }}{{ end }}
{{- end }}

{{/* Settings that cannot work, refused at render time rather than in a crash-looping pod. */}}
{{- define "prtracker.validate" -}}
{{- if and .Values.github.app.enabled (not .Values.github.app.id) }}
{{- fail "github.app.enabled needs github.app.id" }}
{{- end }}
{{- if not (or .Values.github.app.enabled .Values.github.token.enabled) }}
{{- fail "enable github.token or github.app: the operator needs GitHub credentials" }}
{{- end }}
{{- if not .Values.webhook.secrets }}
{{- fail "webhook.secrets needs at least one entry: GitHub's deliveries are verified with it" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount above 1 needs leaderElection.enabled: two working replicas would both write" }}
{{- end }}
{{- if not (has .Values.operator.logFormat (list "text" "json")) }}
{{- fail "operator.logFormat is text or json" }}
{{- end }}
{{- end }}

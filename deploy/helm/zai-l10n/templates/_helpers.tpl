{{/* Names */}}
{{- define "zai-l10n.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "zai-l10n.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "zai-l10n.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Kubernetes recommended labels; selectors use name and instance (plus component) only. */}}
{{- define "zai-l10n.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zai-l10n.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "zai-l10n.labels" -}}
helm.sh/chart: {{ include "zai-l10n.chart" . }}
{{ include "zai-l10n.selectorLabels" . }}
app.kubernetes.io/version: {{ include "zai-l10n.imageTag" . | quote }}
app.kubernetes.io/part-of: zai-l10n
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* include "zai-l10n.componentLabels" (list $ "worker") */}}
{{- define "zai-l10n.componentLabels" -}}
{{ include "zai-l10n.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "zai-l10n.componentSelectorLabels" -}}
{{ include "zai-l10n.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Image */}}
{{- define "zai-l10n.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{- define "zai-l10n.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (include "zai-l10n.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{- define "zai-l10n.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "zai-l10n.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Secrets: the settings that only ever come from a Secret. */}}
{{- define "zai-l10n.secretVars" -}}
DATABASE_URL ZAI_API_KEY API_ADMIN_TOKEN API_TENANT_TOKENS CREDENTIALS_KEY KAFKA_SASL_USERNAME KAFKA_SASL_PASSWORD TRUTO_API_TOKEN OTEL_EXPORTER_OTLP_HEADERS
{{- end -}}

{{- define "zai-l10n.secretName" -}}
{{- default (include "zai-l10n.fullname" .) .Values.secret.existingSecret -}}
{{- end -}}

{{/* include "zai-l10n.secretKeyRef" (list $ "DATABASE_URL"): the secretKeyRef of one variable. */}}
{{- define "zai-l10n.secretKeyRef" -}}
{{- $root := index . 0 -}}
{{- $var := index . 1 -}}
{{- $ref := get $root.Values.secret.refs $var -}}
{{- if $ref -}}
name: {{ $ref.name }}
key: {{ $ref.key }}
{{- else -}}
name: {{ include "zai-l10n.secretName" $root }}
key: {{ $var }}
optional: true
{{- end -}}
{{- end -}}

{{/* Whether the database URL comes from anywhere at all. */}}
{{- define "zai-l10n.hasDatabaseUrl" -}}
{{- if or .Values.secret.existingSecret .Values.secret.refs.DATABASE_URL .Values.secret.values.DATABASE_URL -}}
true
{{- end -}}
{{- end -}}

{{/* Environment shared by the worker and the API. */}}
{{- define "zai-l10n.env" -}}
- name: DATABASE_AUTO_MIGRATE
  value: "false"
{{- if .Values.kafka.caSecret.name }}
- name: KAFKA_SSL_CAFILE
  value: /etc/zai-l10n/kafka-ca/{{ .Values.kafka.caSecret.key }}
{{- end }}
{{- range $var := include "zai-l10n.secretVars" . | splitList " " }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      {{- include "zai-l10n.secretKeyRef" (list $ $var) | nindent 6 }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "zai-l10n.envFrom" -}}
- configMapRef:
    name: {{ include "zai-l10n.fullname" . }}
{{- end -}}

{{/* Volumes: a writable /tmp on a read-only root filesystem, and the Kafka CA. */}}
{{- define "zai-l10n.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- if .Values.kafka.caSecret.name }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.caSecret.name }}
    items:
      - key: {{ .Values.kafka.caSecret.key }}
        path: {{ .Values.kafka.caSecret.key }}
{{- end }}
{{- end -}}

{{- define "zai-l10n.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.kafka.caSecret.name }}
- name: kafka-ca
  mountPath: /etc/zai-l10n/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/* Annotations that roll the pods when the ConfigMap or the chart's Secret changes. */}}
{{- define "zai-l10n.checksums" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{/* The KEDA `sasl` value for the configured mechanism. */}}
{{- define "zai-l10n.kedaSasl" -}}
{{- $m := .Values.config.KAFKA_SASL_MECHANISM | default "PLAIN" -}}
{{- if eq $m "SCRAM-SHA-256" -}}scram_sha256{{- else if eq $m "SCRAM-SHA-512" -}}scram_sha512{{- else -}}plaintext{{- end -}}
{{- end -}}

{{- define "zai-l10n.kafkaProtocol" -}}
{{- .Values.config.KAFKA_SECURITY_PROTOCOL | default "PLAINTEXT" -}}
{{- end -}}

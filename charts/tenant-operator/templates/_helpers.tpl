{{/* Names, labels and the checks every template shares. */}}

{{- define "tenant-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tenant-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tenant-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tenant-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tenant-operator.labels" -}}
{{ include "tenant-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: integraci
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "tenant-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tenant-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tenant-operator.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Fail the render, naming the value, when a required setting is missing or wrong. */}}
{{- define "tenant-operator.validate" -}}
{{- $_ := required "database.existingSecret is required: a Secret holding the operator's PostgreSQL DSN (see the README's Install section)" .Values.database.existingSecret -}}
{{- $_ := required "openbao.address is required, e.g. https://openbao.openbao.svc:8200" .Values.openbao.address -}}
{{- if not (has .Values.openbao.layout (list "namespace" "mount")) -}}
{{- fail (printf "openbao.layout must be namespace or mount, not %q" .Values.openbao.layout) -}}
{{- end -}}
{{- if eq .Values.openbao.auth.method "kubernetes" -}}
{{- $_ := required "openbao.auth.kubernetes.role is required with openbao.auth.method=kubernetes" .Values.openbao.auth.kubernetes.role -}}
{{- else if eq .Values.openbao.auth.method "token" -}}
{{- $_ := required "openbao.auth.token.existingSecret is required with openbao.auth.method=token" .Values.openbao.auth.token.existingSecret -}}
{{- else -}}
{{- fail (printf "openbao.auth.method must be kubernetes or token, not %q" .Values.openbao.auth.method) -}}
{{- end -}}
{{- if not .Values.tenants.allowedSecretNamespaces -}}
{{- fail "tenants.allowedSecretNamespaces must name at least one namespace (the operator watches Secrets and keeps its peering there)" -}}
{{- end -}}
{{- if or (lt (int .Values.shards) 1) (gt (int .Values.shards) 64) -}}
{{- fail (printf "shards must be between 1 and 64, not %v" .Values.shards) -}}
{{- end -}}
{{- if and (gt (int .Values.shards) 1) (not .Values.peering.enabled) (gt (int .Values.replicaCount) 1) -}}
{{- fail "shards > 1 with replicaCount > 1 needs peering.enabled=true" -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.peering.enabled) -}}
{{- fail "replicaCount > 1 needs peering.enabled=true: standalone replicas would all work on the same tenants" -}}
{{- end -}}
{{- end -}}

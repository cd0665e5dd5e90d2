-- Argo CD health check for integraci.io/Tenant (argocd-cm key
-- resource.customizations.health.integraci.io_Tenant). The operator's status follows
-- kstatus; this reads it in this order, first match wins:
--   deletionTimestamp set                  -> Progressing "Pending deletion"
--   Reconciling reason Paused              -> Suspended   (integraci.io/paused)
--   observedGeneration ~= generation       -> Progressing "waiting for the operator to observe generation N"
--   Stalled True                           -> Degraded    (needs a human)
--   Reconciling True                       -> Progressing (work or a retryable failure)
--   Ready True                             -> Healthy
--   otherwise (Ready False/Unknown/absent) -> Progressing
-- Only Lua's base library is used: argocd-cm scripts run without the string library.
hs = {}
if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Pending deletion"
  return hs
end
local status = obj.status or {}
local conditions = {}
for _, c in ipairs(status.conditions or {}) do
  if c.type ~= nil and conditions[c.type] == nil then
    conditions[c.type] = c
  end
end
local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return (c.reason or "") .. ": " .. c.message
  end
  return c.reason or ""
end
local reconciling, stalled, ready = conditions["Reconciling"], conditions["Stalled"], conditions["Ready"]
if reconciling ~= nil and reconciling.reason == "Paused" then
  hs.status = "Suspended"
  hs.message = describe(reconciling)
  return hs
end
local generation = obj.metadata.generation
if status.observedGeneration == nil or status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to observe generation " .. tostring(generation)
  return hs
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling)
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end
hs.status = "Progressing"
if ready ~= nil then
  hs.message = "Ready is " .. tostring(ready.status) .. ": " .. describe(ready)
else
  hs.message = "waiting for the Ready condition"
end
return hs

"""The platform teams' client of the service: `zai-l10n translate` and `zai-l10n status`.

`inputs` turns files or text into requests (checked here by the worker's own rules, so a bad
file fails before anything is published); `session` publishes them and collects their results
with FastStream's KafkaBroker; `report` shows progress and the QA summary with rich.
"""

"""How jobs flow through a worker: the intake of consumed batches (`intake.py`, with the
signature check `request_auth.py`), claiming and running them (`executor.py`, `fairness.py`)
and the tenants' token budgets (`budget.py`)."""

"""The wire contract: the messages on the topics (`messages.py`), their ids and headers
(`events.py`), a language's outcome as an event (`outcomes.py`), decoding a consumed request
(`decode.py`, `resource.py`), signed requests (`signature.py`), the JSON Schemas
(`schemas.py`) and the states a job, a language and a glossary file go through (`states.py`).
Pure, and below everything else in the pipeline: it imports none of its other groups."""

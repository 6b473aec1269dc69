"""The collection agent: config, one-shot and scheduled collection into the store, the demo.

- :mod:`tracelens.agent.config` / :mod:`tracelens.agent.config_file`: the TOML config, validated
  with every problem reported at once.
- :mod:`tracelens.agent.runner`: one collection cycle per collector (checkpoint, windows,
  collect, persist, advance, record); used by ``tracelens collect --once``.
- :mod:`tracelens.agent.scheduler`: the APScheduler daemon (``tracelens agent``) with the report
  job, the status file and the health endpoint.
- :mod:`tracelens.agent.demo`: ``tracelens demo`` against a local moto server.
"""

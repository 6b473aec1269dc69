"""Lambda execution environments: reuse, cold starts, provisioned concurrency and throttling.

Each function has a pool. An invocation takes a free environment (warm), or starts a new one
(cold) unless the function's reserved concurrency is already in use, in which case Lambda
throttles it. Idle environments are reclaimed after a few minutes, so cold starts recur.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tracelens.samples.app import FunctionSpec
from tracelens.samples.ids import Draws

ON_DEMAND = "on_demand"
PROVISIONED = "provisioned"
SNAPSTART = "snapstart"

# NOTE: the one provisioned environment is prepared this long before the window starts, so its
# Initialization ends minutes before the first invocation it serves.
PROVISIONED_LEAD_S = 17 * 60 + 23.0


@dataclass
class Environment:
    """One execution environment (one log stream)."""

    index: int
    log_stream: str
    provisioned: bool
    idle_ttl_s: float
    busy_until_s: float = 0.0
    busy: list[tuple[float, float]] = field(default_factory=list)
    # Set while the environment's init has not yet been shown on an invocation's trace.
    pending_init: tuple[str, float, float] | None = None  # (kind, start_s, duration_ms)
    # host -> time the last request on a kept-alive connection ended
    connections: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Acquired:
    """A free or new environment; ``cold_kind`` is set when this invocation shows an init."""

    env: Environment
    cold_kind: str | None


class FunctionPool:
    """The environments of one function."""

    def __init__(self, spec: FunctionSpec, draws: Draws) -> None:
        self.spec = spec
        self._draws = draws
        self.envs: list[Environment] = []
        self.retired: list[Environment] = []
        self._next_index = 0

    def add_provisioned(self, init_start_s: float, init_ms: float) -> Environment:
        env = self._new_env(init_start_s, provisioned=True)
        env.pending_init = (PROVISIONED, init_start_s, init_ms)
        return env

    def busy_at(self, t_s: float) -> int:
        return sum(1 for env in self.envs if env.busy_until_s > t_s)

    def acquire(self, t_s: float) -> Acquired | None:
        """Pick an environment for an invocation starting at ``t_s``; None when throttled."""
        self._reclaim_idle(t_s)
        free = [env for env in self.envs if env.busy_until_s <= t_s]
        if free:
            # Provisioned environments serve first; then the most recently used one.
            env = max(free, key=lambda e: (e.provisioned, e.busy_until_s))
            return Acquired(env, env.pending_init[0] if env.pending_init else None)
        limit = self.spec.reserved_concurrency
        if limit is not None and self.busy_at(t_s) >= limit:
            return None
        env = self._new_env(t_s, provisioned=False)
        return Acquired(env, SNAPSTART if self.spec.snapstart else ON_DEMAND)

    def release(self, env: Environment, start_s: float, end_s: float) -> None:
        env.busy.append((start_s, end_s))
        env.busy_until_s = max(env.busy_until_s, end_s)
        env.pending_init = None

    def intervals(self) -> list[tuple[float, float, bool]]:
        """Every busy interval with whether it ran on a provisioned environment."""
        return [
            (start, end, env.provisioned)
            for env in (*self.retired, *self.envs)
            for start, end in env.busy
        ]

    def _reclaim_idle(self, t_s: float) -> None:
        keep: list[Environment] = []
        for env in self.envs:
            idle = env.busy and not env.provisioned and t_s - env.busy_until_s > env.idle_ttl_s
            (self.retired if idle else keep).append(env)
        self.envs = keep

    def _new_env(self, born_s: float, *, provisioned: bool) -> Environment:
        day = datetime.fromtimestamp(born_s, UTC).strftime("%Y/%m/%d")
        version = self.spec.version
        env = Environment(
            index=self._next_index,
            log_stream=f"{day}/[{version}]{self._draws.hex_text(32)}",
            provisioned=provisioned,
            idle_ttl_s=self._draws.uniform(300.0, 540.0),
        )
        self._next_index += 1
        self.envs.append(env)
        return env

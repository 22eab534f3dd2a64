"""Max-token clipping and impatient users (Yang, Jiao & Xu 2024; M/G/1+D).

Service is affine in output tokens, S = a·min(N, L) + c, with N the token count, L the
max-token limit, a the seconds per token and c a per-request overhead (Yang, Jiao, Xu, "A
queueing theoretic perspective on low-latency LLM inference with variable token length",
arXiv:2407.05347, 2024). The M/G/1 delay at limit L follows from the clipped moments
E[min(N,L)^k] = E[N^k; N<=L] + L^k P(N>L) and Pollaczek–Khinchine.

Impatient users with deterministic patience τ (M/G/1+D): under FCFS a user's wait is the
virtual waiting time V at arrival, so a user is served iff V <= τ. On [0, τ] the law of V is
P(V <= x) = P0·R(x) with R the Beneš renewal function of the M/G/1 (any ρ), and the busy
fraction gives 1 - P0 = ρ·P0·R(τ), hence

    P0 = 1 / (1 + ρR(τ)),   P(loss) = 1 - R(τ)/(1 + ρR(τ)),
    E[wait | served] = (τR(τ) - ∫_0^τ R) / R(τ).

Exact (Daley 1965; Baccelli, Boyer & Hébuterne, "Single-server queues with impatient
customers", Adv. Appl. Prob. 16, 1984). τ → 0 gives the Erlang loss ρ/(1+ρ) of M/G/1/1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from queueing.errors import QueueingInputError, nonnegative, positive
from queueing.laws import Empirical, ServiceLaw
from queueing.mg1 import MG1, renewal_log_and_ratio
from queueing.results import QueueModel, json_safe


def token_service(
    tokens: ServiceLaw, seconds_per_token: float, overhead: float = 0.0, limit: float | None = None
) -> ServiceLaw:
    """Service law a·min(N, L) + c (no clipping when ``limit`` is None)."""
    law = tokens if limit is None else tokens.clip(limit)
    return law.affine(seconds_per_token, overhead)


@dataclass(frozen=True)
class ClippingOptimum:
    """The best limit over the candidates, with its delay and utility."""

    limit: float
    objective: float
    utility: float
    mean_wait: float
    mean_sojourn: float
    clipped_fraction: float

    def to_dict(self) -> dict[str, Any]:
        return json_safe(self.__dict__)

    def to_frame(self) -> pd.DataFrame:
        """One row: the limit, objective, utility, delays and clipped share."""
        return pd.DataFrame([self.to_dict()])


class MaxTokenQueue:
    """M/G/1 whose service is ``seconds_per_token·min(N, limit) + overhead``."""

    def __init__(
        self,
        arrival_rate: float,
        tokens: ServiceLaw,
        seconds_per_token: float,
        overhead: float = 0.0,
    ) -> None:
        self.arrival_rate = positive("arrival_rate", arrival_rate)
        self.tokens = tokens
        self.seconds_per_token = positive("seconds_per_token", seconds_per_token)
        self.overhead = nonnegative("overhead", overhead)

    def at(self, limit: float | None) -> MG1:
        """The M/G/1 at one limit (None: no clipping)."""
        law = token_service(self.tokens, self.seconds_per_token, self.overhead, limit)
        return MG1(self.arrival_rate, law)

    def mean_wait(self, limit: float | None) -> float:
        return self.at(limit).mean_wait

    def mean_sojourn(self, limit: float | None) -> float:
        return self.at(limit).mean_sojourn

    def clipped_fraction(self, limit: float) -> float:
        """P(N > L): the share of requests cut short."""
        return float(1.0 - self.tokens.cdf(limit))

    def candidate_limits(self, count: int = 200) -> np.ndarray:
        """Observed token values (Empirical) or quantiles 1%..99.99% of the token law."""
        if isinstance(self.tokens, Empirical):
            return self.tokens.values
        return np.unique(self.tokens.quantile(1.0 - np.geomspace(0.99, 1e-4, count)))

    def optimal_limit(
        self,
        utility: Callable[[float], float],
        weight: float,
        limits: Sequence[float] | None = None,
        delay: str = "sojourn",
    ) -> ClippingOptimum:
        """argmax_L utility(L) - weight·delay(L) over ``limits`` (overloaded limits excluded).

        ``delay`` is "sojourn" (arrival to completion) or "wait" (arrival to start).
        """
        if delay not in ("sojourn", "wait"):
            raise QueueingInputError(f"delay must be 'sojourn' or 'wait'; got {delay!r}")
        weight = nonnegative("weight", weight)
        cands = self.candidate_limits() if limits is None else np.asarray(limits, dtype=float)
        best: ClippingOptimum | None = None
        for limit in cands:
            q = self.at(float(limit))
            if not q.stable:
                continue
            d = q.mean_sojourn if delay == "sojourn" else q.mean_wait
            u = float(utility(float(limit)))
            obj = u - weight * d
            if best is None or obj > best.objective:
                frac = self.clipped_fraction(float(limit))
                best = ClippingOptimum(float(limit), obj, u, q.mean_wait, q.mean_sojourn, frac)
        if best is None:
            raise QueueingInputError("limits must contain at least one limit with load < 1")
        return best


class ImpatientMG1(QueueModel):
    """M/G/1+D: FCFS, users leave when their wait would exceed ``patience`` τ (seconds).

    Always stable (the loss absorbs any overload); ``utilization`` is the busy fraction
    ρ·(1 - P(loss)) and ``offered_load`` is ρ = λE[S]. Waits are those of served users.
    """

    model = "M/G/1+D"

    def __init__(self, arrival_rate: float, service: ServiceLaw, patience: float) -> None:
        self.arrival_rate = positive("arrival_rate", arrival_rate)
        self.service = service
        self.patience = positive("patience", patience)
        self._log_r, self._int_ratio = renewal_log_and_ratio(
            self.arrival_rate, service, self.patience
        )

    @property
    def offered_load(self) -> float:
        return self.arrival_rate * self.service.mean

    @property
    def loss_probability(self) -> float:
        """1 - R(τ)/(1 + ρR(τ)) = 1 - 1/(1/R(τ) + ρ) (finite when R overflows)."""
        inv_r = math.exp(-self._log_r) if self._log_r < 700 else 0.0
        return max(1.0 - 1.0 / (inv_r + self.offered_load), 0.0)

    @property
    def throughput(self) -> float:
        return self.arrival_rate * (1.0 - self.loss_probability)

    @property
    def utilization(self) -> float:
        return self.offered_load * (1.0 - self.loss_probability)

    @property
    def mean_wait(self) -> float:
        """Mean wait of served users: τ - ∫_0^τ R / R(τ)."""
        return max(self.patience - self._int_ratio, 0.0)

    @property
    def mean_sojourn(self) -> float:
        return self.mean_wait + self.service.mean

    def _extra(self) -> dict[str, Any]:
        return {
            "patience": self.patience,
            "offered_load": self.offered_load,
            "loss_probability": self.loss_probability,
            "throughput": self.throughput,
        }

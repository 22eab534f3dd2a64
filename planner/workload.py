"""Workloads: the distribution of (input tokens, output tokens) per request, and how requests
arrive. From a trace file (CSV / JSONL), a 2-D histogram of buckets, parametric laws, or one of
the bundled synthetic traces (chat, summarization, code); bucketing helpers for the planner.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from planner.cells import csv_row, numeric_cells

TRACE_DIR = Path(__file__).parent / "data" / "traces"
REQUIRED = ("input_tokens", "output_tokens")


class WorkloadError(ValueError):
    """A trace, histogram or law that cannot describe a workload (one line, naming the field)."""


@dataclass(frozen=True)
class Workload:
    """A discrete distribution over request sizes: ``weights[i]`` is the probability of a
    request with ``input_tokens[i]`` prompt and ``output_tokens[i]`` generated tokens.
    ``arrival_s`` keeps a trace's arrival times (seconds from its start) when it has them."""

    name: str
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    weights: np.ndarray
    arrival_s: np.ndarray | None = field(default=None, repr=False)

    # ---- constructors --------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        name: str = "trace",
        source: str = "trace",
        row_of: Callable[[int], int] | None = None,
    ):
        """Rows with input_tokens, output_tokens and optionally arrival_time / weight.

        Token counts must be whole numbers >= 1 (no rounding): the first bad cell is named
        by ``source``, row (``row_of(position)``; default 1 = first request) and column."""
        missing = [c for c in REQUIRED if c not in frame.columns]
        if missing:
            raise WorkloadError(
                f"{source}: missing column(s) {', '.join(missing)}; a trace needs "
                "input_tokens, output_tokens and optionally arrival_time"
            )
        if frame.empty:
            raise WorkloadError(f"{source}: no requests")
        cells = functools.partial(
            numeric_cells, source=source, error=WorkloadError, row_of=row_of or (lambda i: i + 1)
        )
        ins, outs = (
            cells(frame[c], c, integer=True, minimum=1, fix="use a whole token count >= 1").astype(
                np.int64
            )
            for c in REQUIRED
        )
        w = (
            cells(frame["weight"], "weight", minimum=0, fix="use a weight >= 0")
            if "weight" in frame
            else np.ones(len(frame))
        )
        if w.sum() <= 0:
            raise WorkloadError(f"{source}: column 'weight' sums to 0; give some request weight")
        arrivals = None
        if "arrival_time" in frame:
            arrivals = cells(frame["arrival_time"], "arrival_time", fix="use seconds")
            if np.any(np.diff(arrivals) < 0):
                raise WorkloadError(f"{source}: arrival_time must be finite and non-decreasing")
            arrivals = arrivals - arrivals[0]
        return cls(name, ins, outs, w / w.sum(), arrivals)

    @classmethod
    def from_trace(cls, path: str | Path, name: str | None = None) -> Workload:
        """Load a CSV or JSONL trace (columns input_tokens, output_tokens[, arrival_time]);
        a bad cell is named by file, line and column."""
        path = Path(path)
        if not path.is_file():
            raise WorkloadError(f"trace file {str(path)!r} does not exist")
        if path.suffix in (".jsonl", ".json"):
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise WorkloadError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
            numbered = [(k, line) for k, line in enumerate(text.splitlines(), 1) if line.strip()]
            rows = []
            for k, line in numbered:
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise WorkloadError(f"{path}: line {k} is not a JSON object: {exc}") from None
                if not isinstance(row, dict):
                    raise WorkloadError(
                        f"{path}: line {k} is a JSON {type(row).__name__}, not an object; write "
                        '{"input_tokens": ..., "output_tokens": ...} per line'
                    )
                rows.append(row)
            frame, row_of = pd.DataFrame(rows), (lambda i: numbered[i][0])
        else:
            try:
                frame = pd.read_csv(path)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
                raise WorkloadError(f"{path}: cannot read trace CSV: {exc}") from None
            row_of = csv_row
        return cls.from_frame(frame, name or path.stem, str(path), row_of=row_of)

    @classmethod
    def bundled(cls, name: str) -> Workload:
        """One of the bundled synthetic traces: chat, summarization, code."""
        path = TRACE_DIR / f"{name}.csv"
        if not path.exists():
            from perfmodel.errors import closest

            names = bundled_names()
            raise WorkloadError(
                f"unknown workload {name!r}; closest: {', '.join(closest(name, names))}"
            )
        return cls.from_trace(path, name)

    @classmethod
    def from_histogram(cls, rows, name: str = "histogram", normalize: bool = False) -> Workload:
        """Buckets [{input_tokens, output_tokens, probability}, ...]; probabilities must sum to
        1 (within 1e-6) unless ``normalize`` is set."""
        frame = pd.DataFrame(list(rows))
        if "probability" not in frame:
            raise WorkloadError(f"{name}: every bucket needs a 'probability'")
        p = frame["probability"].to_numpy(float)
        if not np.all(np.isfinite(p)) or np.any(p < 0):
            raise WorkloadError(f"{name}: probabilities must be finite and >= 0")
        if abs(p.sum() - 1) > 1e-6 and not normalize:
            raise WorkloadError(
                f"{name}: bucket probabilities sum to {p.sum():.6g}, not 1; fix them or pass "
                "normalize=True"
            )
        return cls.from_frame(frame.rename(columns={"probability": "weight"}), name, name)

    @classmethod
    def fixed(cls, input_tokens: int, output_tokens: int) -> Workload:
        """Every request has the same size."""
        return cls.from_frame(
            pd.DataFrame({"input_tokens": [input_tokens], "output_tokens": [output_tokens]}),
            f"fixed-{input_tokens}x{output_tokens}",
        )

    @classmethod
    def from_laws(cls, input_law, output_law, n: int = 4096, seed: int = 0, name: str = "laws"):
        """Sample ``n`` requests from two queueing service laws (e.g. queueing.LogNormal) of
        token counts (rounded, at least 1)."""
        rng = np.random.default_rng(seed)
        ins = np.maximum(1, np.rint(input_law.sample(n, rng)))
        outs = np.maximum(1, np.rint(output_law.sample(n, rng)))
        return cls.from_frame(pd.DataFrame({"input_tokens": ins, "output_tokens": outs}), name)

    # ---- moments and sampling -----------------------------------------------------------
    def mean(self, values) -> float:
        return float(np.dot(self.weights, values))

    @property
    def mean_input(self) -> float:
        return self.mean(self.input_tokens)

    @property
    def mean_output(self) -> float:
        return self.mean(self.output_tokens)

    def sample(self, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
        """``n`` (input, output) pairs drawn with the workload's weights."""
        idx = np.random.default_rng(rng).choice(self.weights.size, size=n, p=self.weights)
        return self.input_tokens[idx], self.output_tokens[idx]

    def restrict(self, mask: np.ndarray, name: str | None = None) -> Workload:
        """The workload conditioned on ``mask`` (renormalized)."""
        if not mask.any():
            raise WorkloadError(f"{self.name}: no request is left after the restriction")
        w = self.weights[mask]
        return Workload(
            name or self.name, self.input_tokens[mask], self.output_tokens[mask], w / w.sum()
        )

    def buckets(self, input_edges, output_edges) -> list[Bucket]:
        """Split into a 2-D grid of size buckets (left-closed); empty buckets are dropped."""
        ie, oe = np.asarray(input_edges, float), np.asarray(output_edges, float)
        bi = np.clip(np.searchsorted(ie, self.input_tokens, side="right") - 1, 0, ie.size - 2)
        bo = np.clip(np.searchsorted(oe, self.output_tokens, side="right") - 1, 0, oe.size - 2)
        out = []
        for i in range(ie.size - 1):
            for j in range(oe.size - 1):
                mask = (bi == i) & (bo == j)
                if mask.any():
                    share = float(self.weights[mask].sum())
                    name = f"in[{ie[i]:g},{ie[i + 1]:g})xout[{oe[j]:g},{oe[j + 1]:g})"
                    out.append(Bucket(name, share, self.restrict(mask, name)))
        return out

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "weight": self.weights,
            }
        )

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "requests": int(self.weights.size),
            "mean_input": self.mean_input,
            "mean_output": self.mean_output,
        }


@dataclass(frozen=True)
class Bucket:
    """A slice of a workload and the share of its requests."""

    name: str
    share: float
    workload: Workload


def bundled_names() -> list[str]:
    return sorted(p.stem for p in TRACE_DIR.glob("*.csv"))

"""Deployment-plan search: GPU type, tp / pp / ep, quantization, engine limits, aggregated or
disaggregated prefill/decode with the x:y ratio; every plan screened in closed form, the best
re-evaluated with the full serving model; objectives, Pareto frontiers, vLLM command lines.

>>> from planner.search import search
>>> res = search("llama-3.1-8b", "chat", {"ttft_s": 1.0, "tpot_s": 0.05},
...              {"gpus": ["A100-SXM4-80GB"]}, top=5)              # doctest: +SKIP
>>> res.to_frame().head()                                           # doctest: +SKIP

Public API: search, SearchSpace, SearchResult, SearchError, OBJECTIVES, FRONTIERS,
pareto_mask, vllm_commands.
"""

from .api import search
from .commands import vllm_commands
from .errors import SearchError
from .objectives import FRONTIERS, OBJECTIVES, pareto_mask
from .result import SearchResult
from .space import SearchSpace
from .sweep import SweepResult, sweep

__all__ = [
    "FRONTIERS",
    "OBJECTIVES",
    "SearchError",
    "SearchResult",
    "SearchSpace",
    "SweepResult",
    "pareto_mask",
    "search",
    "sweep",
    "vllm_commands",
]

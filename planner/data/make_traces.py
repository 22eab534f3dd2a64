"""Regenerate the bundled synthetic traces (fixed seeds): python -m planner.data.make_traces

Shapes (lognormal token counts, clipped), chosen to resemble public trace statistics:
- chat: ShareGPT-like conversations, short prompts (median 180) and answers (median 220);
- summarization: long documents (median 3,000 tokens) and short summaries (median 250);
- code: code completion, mid-size context (median 1,500) and short completions (median 60).
Arrivals: Poisson at 1 request/s (scale the rate in the serving model).
"""

from pathlib import Path

import numpy as np
import pandas as pd

SHAPES = {
    "chat": ((180, 0.9, 4, 4096), (220, 0.7, 4, 2048)),
    "summarization": ((3000, 0.5, 512, 16000), (250, 0.5, 16, 1024)),
    "code": ((1500, 0.6, 64, 8192), (60, 0.8, 4, 512)),
}


def lognormal(rng, median, sigma, lo, hi, n):
    return np.clip(np.rint(median * np.exp(sigma * rng.standard_normal(n))), lo, hi).astype(int)


def main(n: int = 2000) -> None:
    out = Path(__file__).parent / "traces"
    out.mkdir(exist_ok=True)
    for seed, (name, (ins, outs)) in enumerate(SHAPES.items()):
        rng = np.random.default_rng(seed)
        frame = pd.DataFrame(
            {
                "arrival_time": np.round(np.cumsum(rng.exponential(1.0, n)), 4),
                "input_tokens": lognormal(rng, *ins, n),
                "output_tokens": lognormal(rng, *outs, n),
            }
        )
        frame.to_csv(out / f"{name}.csv", index=False)


if __name__ == "__main__":
    main()

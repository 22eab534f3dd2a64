"""Engine: one replica's model, hardware, plan and scheduler, resolved once, with the fast
step-time model and the KV capacity that both the analytic model and the simulator use."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property

import numpy as np

import perfmodel as pm
from hardware_specs.engines import EngineProfile, get_engine
from perfmodel.compiled import StepTimeModel
from perfmodel.memory import kv_bytes_per_token, memory_footprint
from perfmodel.shape import layer_mean

from .schedulers import Scheduler, engine_scheduler, parse_scheduler


@dataclass(frozen=True)
class Engine:
    """A replica: ``steps`` gives iteration times (the serving engine's padding and host time
    included, perfmodel.host); ``kv_tokens`` the KV-cache token capacity; ``max_seqs`` the
    scheduler's sequence limit; ``max_context`` the model's context; ``profile`` the serving
    engine assumed (hardware_specs.engines)."""

    model: pm.ModelSpec
    hardware: object
    parallelism: pm.Parallelism
    quant: pm.Quant
    scheduler: Scheduler
    steps: StepTimeModel
    kv_tokens: int
    kv_bytes_per_token: float
    profile: EngineProfile | None = None

    @property
    def calibration(self) -> str:
        """Which kernel data the step times use (measured profile, learned, constants)."""
        from perfmodel.calibration import describe

        return describe(self.steps.calibration)

    @property
    def engine_label(self) -> str:
        """The serving engine assumed, e.g. 'vllm-v1 (vllm 0.8+ (V1))'; 'none' without one."""
        return self.profile.label if self.profile is not None else "none (GPU time only)"

    @property
    def admission(self) -> str:
        return self.profile.admission if self.profile is not None else "prompt"

    @classmethod
    def build(
        cls,
        model,
        hardware,
        parallelism=None,
        scheduler=None,
        quant=None,
        calibration="default",
        engine=None,
    ) -> Engine:
        """The replica; ``engine`` names a serving-engine profile (None: GPU time only, the
        scheduler's own defaults), whose scheduler defaults fill what ``scheduler`` leaves."""
        profile = None if engine is None else get_engine(engine)
        steps = StepTimeModel(model, hardware, parallelism, quant, calibration, profile)
        s = steps.setup
        sched = parse_scheduler(engine_scheduler(profile, s.hardware, scheduler))
        fp = memory_footprint(s.model, s.hardware, s.par, s.quant, sched.memory_utilization)
        from perfmodel.plan_checks import check_fits

        check_fits(s.model, s.hardware, s.par, s.quant, fp, sched.memory_utilization)
        blocks = fp.kv_capacity_tokens // sched.block_size
        return cls(
            s.model,
            s.hardware,
            s.par,
            s.quant,
            sched,
            steps,
            int(blocks * sched.block_size),
            kv_bytes_per_token(s.model, s.par, s.quant),
            profile,
        )

    @cached_property
    def prepared(self) -> OrderedDict:
        """The workloads prepared for this engine (planner.serving.prepared.prepare)."""
        return OrderedDict()

    @cached_property
    def prefill_side(self) -> Engine:
        """The engine of a disaggregated system's prefill replicas: this one, or the same
        model, hardware, quant and scheduler on the scheduler's prefill_tp x prefill_pp."""
        s = self.scheduler
        tp, pp = getattr(s, "prefill_tp", None), getattr(s, "prefill_pp", None)
        if (tp or self.parallelism.tp, pp or self.parallelism.pp) == (
            self.parallelism.tp,
            self.parallelism.pp,
        ):
            return self
        par = pm.Parallelism(tp=tp or self.parallelism.tp, pp=pp or self.parallelism.pp)
        profile = None if self.profile is None else self.profile.name
        return Engine.build(
            self.model, self.hardware, par, s, self.quant, self.steps.calibration, profile
        )

    @property
    def unit_gpus(self) -> int:
        """GPUs of one deployable unit: the replica, or a disaggregated system's prefill
        and decode replicas together."""
        s = self.scheduler
        if s.kind != "disaggregated":
            return self.gpus
        return s.prefill_replicas * self.prefill_side.gpus + s.decode_replicas * self.gpus

    @property
    def max_seqs(self) -> int:
        return getattr(self.scheduler, "max_num_seqs", getattr(self.scheduler, "batch_size", 1))

    @property
    def max_context(self) -> int:
        return self.model.max_position_embeddings

    @property
    def gpus(self) -> int:
        return self.parallelism.gpus_per_replica

    def decode_time(self, batch, context) -> np.ndarray:
        """Decode iteration time at ``batch`` running sequences of mean ``context`` tokens."""
        return self.steps.decode(np.maximum(batch, 1e-9), context)

    def prefill_time(self, prompts) -> np.ndarray:
        """Prefill iteration time of one prompt of each given length."""
        return self.steps.prefill(prompts)

    def mixed_rows(self, n_decode, context, chunk, chunk_context, finish_share) -> np.ndarray:
        """Aggregate rows (perfmodel.compiled.FIELDS order) of steps holding ``n_decode``
        decodes at ``context`` plus one prompt chunk of ``chunk`` tokens after
        ``chunk_context`` cached ones, which ends its prompt with probability
        ``finish_share``; inputs broadcast and are flattened to one row each. Windows are
        averaged over layers as in perfmodel.shape."""
        n, ctx, q, cc, fs = np.broadcast_arrays(
            *(
                np.asarray(x, dtype=float)
                for x in (n_decode, context, chunk, chunk_context, finish_share)
            )
        )
        n, ctx, q, cc, fs = (x.ravel() for x in (n, ctx, q, cc, fs))
        dec_pairs, dec_read = layer_mean(self.model, np.ones_like(ctx), ctx)
        pre_pairs, pre_read = layer_mean(self.model, np.maximum(q, 1), cc)
        has = (q > 0).astype(float)
        return np.column_stack(
            [
                n + q,
                n + has,
                n + fs * has,
                q,
                pre_pairs * has,
                pre_read * has,
                n,
                n * dec_pairs,
                n * dec_read,
            ]
        )

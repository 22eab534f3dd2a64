"""The iteration loop of the chunked-prefill path (compiled with numba): admission by sequence
slots and KV, and preemption by recompute, as vLLM and the simulator (sim_chunked) do them.

Sequences are numbered: arrivals 0..m-1 (in arrival order), then the decodes running when the
path starts. KV is counted in tokens, a sequence holding its context plus a slack (half a
block: the mean unfilled part of its last block). Each iteration j:
1. the decodes that start or end at j join or leave N (difference array ``delta``) and
   release their KV (``freed``);
2. while this iteration's decode tokens do not fit (held + N > KV), the newest admission is
   preempted: the prompt in progress if any, else the most recently started decode; it goes
   to the front of the queue with its whole context (prompt + generated tokens) to recompute
   and the decodes it has left;
3. the budget q = B - N goes FCFS to the prompt in progress, then to the preempted queue,
   then to new arrivals, admitting a prompt only into a free sequence slot and when its
   context fits after this iteration's decode tokens and the watermark (an empty replica
   admits without the watermark);
4. a prompt that ends decodes from j + 1 for its output tokens (or the ones it has left);
5. the iteration lasts t(N, K/q) from the table, plus the decode context held beyond the
   table's N·c times the table's cost per context token (a KV-full replica holds long
   sequences: at the same N its iterations read more KV than the mean, and a jam drains
   more slowly).

Arrival prompts are a cumulative token stream: S (served), X (arrived), Q (what the
iterations could serve it: the budget after recompute, or what it got where a prompt was held
back). A preempted arrival prompt leaves the stream as if served (its tokens credited to Q)
and is recomputed whole from the preempted queue, so Lindley's S = Q + min(0, min(X - Q))
holds throughout.
"""

from __future__ import annotations

import threading

import numpy as np

from perfmodel.jit import njit

F_ROWS, I_ROWS = 13, 11  # the walk's float and integer work rows
_LOCAL = threading.local()


def workspace(L: int, m: int, n0: int, longest: int) -> tuple[np.ndarray, np.ndarray]:
    """The walk's work rows (float, int), at least L + longest + 3 and m + n0 wide: one pair
    per thread, grown as needed and reused, so the path arrays that ``walk`` returns are
    views valid until the thread's next walk. Fresh arrays of a long path cost a page fault
    per 4 KiB touched, about half of a long path's evaluation (docs/serving.md, Speed)."""
    width = max(L + longest + 3, m + n0, 1)
    fb, ib = getattr(_LOCAL, "buffers", (np.empty((F_ROWS, 0)), np.empty((I_ROWS, 0), np.int64)))
    if fb.shape[1] < width:
        fb, ib = np.empty((F_ROWS, width)), np.empty((I_ROWS, width), np.int64)
        _LOCAL.buffers = fb, ib
    return fb, ib


@njit(cache=True, error_model="numpy")
def walk(
    ep, cum, size, span, flat, dflat, c0, qs, L, rate, kv, cap, bs, idle, init_left, init_held,
    fb, ib, scale=1.0, clients=0, think=0.0,
):  # fmt: skip
    """Per iteration: length g; the length had the arrival stream used all of its capacity
    (what a tagged request waiting behind the stream's backlog sees); decodes N; prompt
    tokens K (all prompts); arrival tokens served S; tokens arrived X; the stream's
    cumulative capacity Q; its credit from prompts preempted in progress, and the iteration
    of their first token after the recompute; each iteration's context correction
    (seconds); the path's clock (cumulative g) and the cumulative excess of gf over g. Then
    the number of preemptions. ``kv`` is the KV that decodes may fill, ``cap`` the
    admission limit (kv less the watermark); ``flat`` the iteration-time table T[n, fill]
    raveled at decode context c0 per sequence, ``dflat`` its derivative in the total decode
    context, ``qs`` the chunk q(n), ``bs`` the KV slack of a sequence, ``ep`` the arrival
    epochs on the clock t = rate * time (times ``scale``); ``fb``, ``ib`` the work rows
    (``workspace``). Only the arrivals the path reaches are touched, so ``ep`` and the
    arrays of sizes may run far past it.

    ``clients`` > 0 makes the arrivals a closed loop (rate and scale 1, so the clock is
    time): ``ep`` is written, not read, the first ``clients`` arrivals at 0 (with no decodes
    running at the start) and each next one ``think`` seconds after a sequence's last decode
    ends (its client's next request, joining the first iteration that starts at or after
    it); ``ep`` must be +inf beyond them. An empty replica then idles until the next
    request in one iteration (clients thinking for seconds would otherwise take thousands)."""
    top = qs.size - 1
    width = flat.size // qs.size
    # fast paths of _time at fills 0 and 1 (most iterations are decode-only): exact
    # where the table is finite (0 * inf would be nan in _time)
    finite = np.isfinite(flat).all() and np.isfinite(dflat).all()
    m, n0 = size.size, init_left.size
    ids = m + n0
    longest = max(span.max() if m else 0, init_left.max() if n0 else 0)
    w = L + longest + 3
    # per iteration: the outputs (see above)
    gs, gf, ks, ss, xs, qc, cred, cor = fb[0, :L], fb[1, :L], fb[2, :L], fb[3, :L], \
        fb[4, :L], fb[5, :L], fb[6, :L], fb[7, :L]  # fmt: skip
    end, full = fb[8, :L], fb[9, :L]
    ns, redo = ib[0, :L], ib[1, :L]
    victim = ib[2, :L]  # arrival prompt preempted in progress at j
    victim[:] = -1
    delta, freed = ib[3, :w], fb[10, :w]  # decodes joining (+) and leaving (-), KV freed
    delta[:] = 0
    freed[:] = 0.0
    first = ib[4, :m]  # iteration of an arrival's first token
    base = fb[11, :ids]  # KV of a decoding sequence when it (re)started: context + a block
    ctx = fb[12, :ids]  # context to recompute after a preemption
    start = ib[5, :ids]  # iteration it (re)started decoding
    stop = ib[6, :ids]  # iteration its decodes end
    left = ib[7, :ids]  # decodes left after a preemption
    stack = ib[8, :ids]  # decoding sequences by start (newest on top)
    queue = ib[9, :ids]  # preempted sequences (front on top)
    fin = ib[10, :w]  # sequences whose decodes end before each iteration (their last token)
    fin[:] = 0
    issued = min(clients, m)  # closed loop: arrivals issued
    ep[:issued] = 0.0
    # an arrival's rows are set as it arrives (the draws run far past a path's arrivals)
    sp = nq = 0
    held = 0.0
    for i in range(n0):
        s = m + i
        ctx[s], start[s], left[s] = 0.0, 0, 0
        base[s], stop[s] = init_held[i] + bs, init_left[i]
        delta[0] += 1
        delta[stop[s]] -= 1
        fin[stop[s]] += 1
        freed[stop[s]] += base[s] + stop[s]
        held += base[s]
        stack[sp] = s
        sp += 1
    N = arrived = admitted = done = preemptions = 0
    rp, rp_done = -1, 0.0  # preempted sequence whose recompute is in progress
    S = t = clock = served = excess = 0.0
    for j in range(L):
        N += delta[j]
        held -= freed[j]
        if clients > 0:  # the clients of the sequences that ended send their next requests
            for _ in range(min(fin[j], m - issued)):
                ep[issued] = clock + think
                issued += 1
        while arrived < m and ep[arrived] * scale <= t:
            s = arrived
            first[s], base[s], ctx[s], start[s], stop[s], left[s] = -1, 0.0, 0.0, 0, 0, 0
            arrived += 1
        credit = 0.0
        while held + N > kv:  # preempt the newest admission
            while sp and stop[stack[sp - 1]] <= j:  # finished decodes leave lazily
                sp -= 1
            if rp >= 0:
                held -= ctx[rp] + bs
                queue[nq], nq, rp = rp, nq + 1, -1
            elif admitted > done:
                a = done
                credit += cum[a + 1] - S
                S = cum[a + 1]
                held -= size[a] + bs
                ctx[a], left[a], victim[j] = size[a], span[a], a
                queue[nq], nq, done = a, nq + 1, done + 1
            elif N > 1 and sp:
                v = stack[sp - 1]
                sp -= 1
                gen = j - start[v]
                held -= base[v] + gen
                N -= 1
                delta[stop[v]] += 1
                fin[stop[v]] -= 1
                freed[stop[v]] -= base[v] + stop[v] - start[v]
                ctx[v], left[v] = base[v] - bs + gen, stop[v] - j
                queue[nq], nq = v, nq + 1
            else:
                break
            preemptions += 1
        q = qs[N]  # N <= top: admissions wait for a free slot
        room = q
        joining = 0  # recomputes that end in this iteration (decode from j + 1)
        pend = 0.0  # and their KV
        k_arr = 0.0
        # 1. the prompt in progress
        if rp >= 0:
            x = min(room, ctx[rp] - rp_done)
            rp_done += x
            room -= x
            if rp_done >= ctx[rp] - 1e-9:
                _begin(rp, j, ctx[rp] + bs, left[rp], base, start, stop, delta, fin, freed, first)
                stack[sp], sp, joining = rp, sp + 1, joining + 1
                pend += ctx[rp] + bs
                rp = -1
        elif admitted > done:
            x = min(room, cum[admitted] - S)
            S += x
            k_arr += x
            room -= x
        # 2. the preempted queue, front first, once no prompt is left in progress
        blocked = False
        while room > 1e-9 and nq and rp < 0 and cum[admitted] - S < 1e-9:
            h = queue[nq - 1]
            busy = N + joining + admitted - done
            fits = held + N + ctx[h] + bs <= cap or busy == 0
            if busy >= top or not fits:
                blocked = True
                break
            nq -= 1
            held += ctx[h] + bs
            x = min(room, ctx[h])
            room -= x
            if x >= ctx[h] - 1e-9:
                _begin(h, j, ctx[h] + bs, left[h], base, start, stop, delta, fin, freed, first)
                stack[sp], sp, joining = h, sp + 1, joining + 1
                pend += ctx[h] + bs
            else:
                rp, rp_done = h, x
        # 3. new arrivals, FCFS, by sequence slot and KV
        stream = not blocked and nq == 0 and rp < 0  # the queue has reached them
        if stream:
            reach = S + room
            while (
                admitted < arrived
                and cum[admitted] < reach
                and N + joining + admitted - done < top
                and (
                    held + N + size[admitted] + bs <= cap
                    or N + joining + admitted - done == 0  # an empty replica
                )
            ):
                held += size[admitted] + bs
                admitted += 1
            x = min(reach, cum[admitted]) - S
            S += x
            k_arr += x
            room -= x
        # the stream's capacity: what it got, and the rest of the budget if it was free to
        # take it (the preempted queue served, no arrived tokens held back)
        free = stream and cum[arrived] - S < 1e-9
        cred[j] = credit
        c = credit + k_arr + (room if free else 0.0)
        held += N
        # decode context: the KV held less the slack and the prompts not yet decoding
        pend += cum[admitted] - cum[done] + (admitted - done) * bs
        pend += ctx[rp] + bs if rp >= 0 else 0.0
        extra = held - pend - N * bs - N * c0
        while done < admitted and cum[done + 1] - 1e-6 <= S:  # prompt ends: decodes follow
            # _begin(done, ...) written out: a call that takes arrays costs reference counts
            kv_s, d_s = size[done] + bs, span[done]
            if first[done] < 0:
                first[done] = j
            base[done], start[done], stop[done] = kv_s, j + 1, j + 1 + d_s
            delta[j + 1] += 1
            delta[j + 1 + d_s] -= 1
            fin[j + 1 + d_s] += 1
            freed[j + 1 + d_s] += kv_s + d_s
            stack[sp], sp, done = done, sp + 1, done + 1
        k = q - room
        b = N * width
        if k == 0 and finite:  # _time at fill 0: the same number without the division
            cor[j] = extra * dflat[b] if N > 0 else 0.0
            g = idle if N == 0 else flat[b] + cor[j]
        else:
            cor[j] = extra * _time(dflat, width, N, k / q) if N > 0 else 0.0
            g = idle if N == 0 and k <= 0 else _time(flat, width, N, k / q) + cor[j]
        if clients > 0 and N == 0 and k <= 0 and arrived < m and ep[arrived] < np.inf:
            g = max(g, ep[arrived] - t)  # an empty replica waits for the next request
        unused = c - credit - k_arr  # capacity the arrival stream left unused
        gs[j], ns[j], ks[j], ss[j], xs[j] = g, N, k, S, cum[arrived]
        if unused <= 0:
            gf[j] = g
        elif k + unused == q:  # _time at fill 1, as it computes it
            gf[j] = flat[b + width - 2] + (flat[b + width - 1] - flat[b + width - 2]) + cor[j]
        else:
            gf[j] = _time(flat, width, N, (k + unused) / q) + cor[j]
        clock, served, excess = clock + g, served + c, excess + gf[j] - g
        end[j], qc[j], full[j] = clock, served, excess
        t += rate * g
    for j in range(L):  # where a prompt preempted at j got its first token
        redo[j] = -1
        if victim[j] >= 0:
            redo[j] = first[victim[j]] if first[victim[j]] >= 0 else L - 1
    return gs, gf, ns, ks, ss, xs, qc, cred, redo, cor, end, full, preemptions


@njit(cache=True, inline="always")
def _time(flat, width, n, fill):
    """T[n, fill] of the raveled table, linear in the fill (in [0, 1]) between the grid's
    fills (i / (width - 1))² (chunked_tables.FILL)."""
    m = width - 1
    f = min(max(fill, 0.0), 1.0)
    i = min(int(np.sqrt(f) * m), m - 1)
    lo, hi = (i / m) ** 2, ((i + 1) / m) ** 2
    b = n * width + i
    return flat[b] + (f - lo) / (hi - lo) * (flat[b + 1] - flat[b])


@njit(cache=True, inline="always")
def _begin(s, j, kv, d, base, start, stop, delta, fin, freed, first):
    """Sequence s, holding kv tokens, decodes in iterations j + 1 .. j + d (its first token
    ends iteration j unless it had one before its preemption)."""
    if s < first.size and first[s] < 0:
        first[s] = j
    base[s], start[s], stop[s] = kv, j + 1, j + 1 + d
    delta[j + 1] += 1
    delta[j + 1 + d] -= 1
    fin[j + 1 + d] += 1
    freed[j + 1 + d] += kv + d


@njit(cache=True)
def fluid_times(flat, qs, loads, N):
    """Fluid iteration time T[r, g] at prompt-token arrival rate loads[r] = λE[I] and
    (fractional) decode batch N[g]: the fixed point T = t(N, λE[I]T/q(N)) (8 iterations of
    the contraction), inf where full chunks cannot keep up (λE[I]·t(N, 1) >= q(N))."""
    top = qs.size - 1
    width = flat.size // qs.size
    out = np.empty((loads.size, N.size))
    for g in range(N.size):
        n = min(max(N[g], 0.0), float(top))
        i = min(int(n), max(top - 1, 0))
        u = n - i
        i1 = min(i + 1, top)
        q = (1 - u) * qs[i] + u * qs[i1]
        full = (1 - u) * _time(flat, width, i, 1.0) + u * _time(flat, width, i1, 1.0)
        for r in range(loads.size):
            if loads[r] * full >= q:
                out[r, g] = np.inf
                continue
            t = (1 - u) * flat[i * width] + u * flat[i1 * width]
            for _ in range(8):
                f = min(loads[r] * t / q, 1.0)
                t = (1 - u) * _time(flat, width, i, f) + u * _time(flat, width, i1, f)
            out[r, g] = t
    return out


@njit(cache=True)
def sorted_search(cdf, u):
    """min(searchsorted(cdf / cdf[-1], u), cdf.size - 1) for rows of u each ascending (as
    stratified draws are): per draw, a galloping search from where the previous one ended
    (steps of 1, 2, 4, ... then bisection: the same first index, in O(log) of the distance
    moved, as the draws sweep the cdf), without a normalized copy of cdf (the same
    quotients, compared lazily; cdf is nondecreasing)."""
    total, size = cdf[-1], cdf.size
    out = np.empty(u.shape, np.int64)
    for r in range(u.shape[0]):
        k = 0
        for i in range(u.shape[1]):
            v, step = u[r, i], 1
            hi = k
            while hi < size and cdf[hi] / total < v:  # the answer lies past hi
                k = hi + 1
                hi = k + step
                step *= 2
            hi = min(hi, size)
            while k < hi:  # first index k with not cdf[k] / total < v
                mid = (k + hi) >> 1
                if cdf[mid] / total < v:
                    k = mid + 1
                else:
                    hi = mid
            out[r, i] = min(k, size - 1)
    return out

"""What users would run instead, each written the way its users write it.

Every peer returns (elements, seconds, note) for the part it computed; a peer that cannot run
here raises Skip with the reason. Peers stepping a Python loop per config time a subset of the
configs (said in the note); the rate is elements per second either way.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np


class Skip(Exception):
    pass


def _best(fn, repeat=3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _configs(params):
    P: np.ndarray
    W: np.ndarray
    E: np.ndarray
    P, W, E = np.meshgrid(params["peak"], params["warmup_steps"], params["end_value"],
                          indexing="ij")
    return P.ravel(), W.ravel().astype(float), E.ravel(), float(params["total"][0])


def numpy_table(params, steps):
    """Broadcasting, as a NumPy user writes warmup + cosine for a grid."""
    P, W, E, T = _configs(params)
    P, W, E = P[:, None], W[:, None], E[:, None]

    def run():
        t = np.arange(steps, dtype=np.float64)[None, :]
        dec = E + (P - E) * 0.5 * (1 + np.cos(np.pi * np.minimum(t - W, T - W) / (T - W)))
        return np.where(t < W, P * t / W, dec).astype(np.float32)
    dt, out = _best(run)
    return out.size, dt, "np.where over (configs, steps) broadcasting"


def numpy_reduce(params, steps, block=1000):
    """The same in blocks of configs (the whole table does not fit), mean over steps."""
    P, W, E, T = _configs(params)

    def run():
        t = np.arange(steps, dtype=np.float64)[None, :]
        out = np.empty(P.size)
        for a in range(0, P.size, block):
            p, w, e = P[a:a + block, None], W[a:a + block, None], E[a:a + block, None]
            dec = e + (p - e) * 0.5 * (1 + np.cos(np.pi * np.minimum(t - w, T - w) / (T - w)))
            out[a:a + block] = np.where(t < w, p * t / w, dec).astype(np.float32).mean(1)
        return out
    dt, _ = _best(run, 1)
    return P.size * steps, dt, f"broadcasting in blocks of {block} configs"


def jax_table(params, steps, reduce=False):
    """jax.jit(jax.vmap(...)) of the warmup + cosine formula over every parameter."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        raise Skip("jax is not installed") from None
    P, W, E, T = _configs(params)

    def one(p, w, e, t):
        dec = e + (p - e) * 0.5 * (1 + jnp.cos(jnp.pi * jnp.minimum(t - w, T - w) / (T - w)))
        return jnp.where(t < w, p * t / w, dec)
    per_config = jax.vmap(one, in_axes=(None, None, None, 0))
    grid = jax.vmap(per_config, in_axes=(0, 0, 0, None))
    f = jax.jit((lambda p, w, e, t: grid(p, w, e, t).mean(axis=1)) if reduce else grid)
    args = [jnp.asarray(x, dtype=jnp.float32) for x in (P, W, E)]
    t = jnp.arange(steps, dtype=jnp.float32)
    f(*args, t).block_until_ready()                       # compile first
    dt, _ = _best(lambda: f(*args, t).block_until_ready())
    return P.size * steps, dt, f"hand-written formula, float32, compiled once, on " \
                               f"{jax.default_backend()}"


def optax_table(params, steps, subset=16):
    """optax.warmup_cosine_decay_schedule: it cannot be vmapped over peak_value or
    warmup_steps, so its users loop over configs, each jit(vmap) over the steps."""
    try:
        import jax
        import jax.numpy as jnp
        import optax
    except ImportError:
        raise Skip("optax/jax is not installed") from None
    P, W, E, T = _configs(params)
    idx = np.linspace(0, P.size - 1, min(subset, P.size)).astype(int)
    t = jnp.arange(steps)

    def run():
        for i in idx:
            sched = optax.warmup_cosine_decay_schedule(0.0, float(P[i]), int(W[i]), int(T),
                                                       float(E[i]))
            jax.jit(jax.vmap(sched))(t).block_until_ready()
    dt, _ = _best(run, 1)
    return idx.size * steps, dt, (f"loop over {idx.size} of {P.size} configs (jit per config), "
                                  f"on {jax.default_backend()}")


def _stepped(params, steps, subset, make):
    """Step one torch scheduler per config (``make(optimizer, peak, warmup, end, total)``) in
    a Python loop, reading the lr at every step, for a subset of the configs."""
    import warnings

    import torch
    P, W, E, T = _configs(params)
    idx = np.linspace(0, P.size - 1, min(subset, P.size)).astype(int)

    def run():
        for i in idx:
            opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=float(P[i]))
            sch = make(opt, float(P[i]), float(W[i]), float(E[i]), T)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for _ in range(steps):
                    opt.param_groups[0]["lr"]
                    opt.step()
                    sch.step()
    dt, _ = _best(run, 1)
    return idx.size * steps, dt, f"loop over {idx.size} of {P.size} configs"


def torch_loop(params, steps, subset=4):
    """A torch LambdaLR stepped in a Python loop, one scheduler per config."""
    try:
        import torch
    except ImportError:
        raise Skip("torch is not installed") from None

    def make(opt, p, w, e, T):
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s / w if s < w else (
            e + (p - e) * 0.5 * (1 + math.cos(math.pi * min(s - w, T - w) / (T - w)))) / p))
    return _stepped(params, steps, subset, make)


def transformers_loop(params, steps, subset=4):
    """transformers.get_cosine_with_min_lr_schedule_with_warmup (a LambdaLR), stepped."""
    try:
        from transformers import get_cosine_with_min_lr_schedule_with_warmup as cosine
    except ImportError:
        raise Skip("transformers is not installed") from None
    return _stepped(params, steps, subset,
                    lambda opt, p, w, e, T: cosine(opt, int(w), int(T), min_lr=e))


DEVICE_PEERS = ("jax", "optax")     # they run where JAX runs: on the GPU when it has one


def device_of(peer: str) -> str:
    """"gpu" when ``peer`` ran on a GPU (JAX's default device), else "cpu"."""
    if peer not in DEVICE_PEERS:
        return "cpu"
    try:
        import jax
        return "gpu" if jax.default_backend() in ("gpu", "cuda", "rocm") else "cpu"
    except ImportError:
        return "cpu"


TABLE_PEERS: dict[str, Callable] = {
    "numpy": numpy_table, "jax": jax_table, "optax": optax_table, "torch": torch_loop,
    "transformers": transformers_loop}
REDUCE_PEERS: dict[str, Callable] = {
    "numpy": numpy_reduce, "jax": lambda params, steps: jax_table(params, steps, reduce=True)}

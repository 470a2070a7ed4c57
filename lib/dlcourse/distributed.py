"""Distributed SGD (lecture 10): elastic averaging SGD (EASGD) next to synchronous data-parallel SGD, run for real.

p workers each hold a copy x_i of the parameters and a shard of the data; EASGD (Zhang, Choromanska & LeCun 2014)
ties the copies to a *center variable* x~ by a spring of stiffness rho instead of forcing them to be equal:

    min over x_1..x_p, x~   sum_i E f(x_i; xi_i) + (rho / 2) ||x_i - x~||^2.

A gradient step of size eta on this objective, with g_i the stochastic gradient of worker i, reads

    x_i <- x_i - eta g_i - alpha (x_i - x~),       x~ <- x~ + alpha sum_i (x_i - x~) = (1 - beta) x~ + beta mean_i x_i

with alpha = eta rho and beta = p alpha, every right-hand side computed from the values before the round
(:func:`easgd_round`). The elastic force alpha (x_i - x~) pulls each worker towards the center and, equal and
opposite, the center towards the workers: the center is a moving average of the workers, stable (a convex
combination) only for 0 <= beta <= 1; the paper takes beta = 0.9, alpha = beta / p. With alpha = 0 the workers do
plain SGD and the center stands still. The workers may explore apart (how far, rho says), which the paper finds
helps on deep nets; only the center is evaluated.

Communication: the round needs mean_i x_i, one all-reduce of the d parameters. EASGD with *communication period*
tau takes tau - 1 purely local SGD steps between rounds (the round itself takes the tau-th step), so it sends
tau times fewer messages than **synchronous data-parallel SGD**, which all-reduces the gradients at every step
(sum, then / p) and applies the same update everywhere: exactly SGD on the concatenated mini-batches.

:func:`train_distributed` runs either method for real: p Python processes started on this machine,
``torch.distributed`` with the gloo backend (CPU, TCP between processes, here on one machine), each worker
training softmax regression on its shard of the digits; it returns the history of the center's test accuracy and
loss after each epoch, the all-reduces and floats each worker sent, the wall time and the start-up time of the
process group. :func:`train_distributed_many` runs several configurations in one process group (start-up is paid
once); :func:`simulate` computes the same numbers in one process with numpy (for sliders), and gives the same
parameters up to rounding.

On many machines: the start-up, the latency of each message and the slowest worker (every synchronous step waits
for it) dominate; a ring all-reduce sends about 2 (p - 1) / p * d floats per worker whatever p, so bandwidth is
not the problem, the number of rounds is, which is what tau saves; the paper's asynchronous variant (a parameter
server, each worker talking to it on its own clock) removes the waiting. A GPU cluster uses the NCCL backend
(``init_process_group("nccl")``, tensors on the GPUs, NVLink/InfiniBand), started by ``torchrun`` with an
``env://`` rendezvous, and DistributedDataParallel, which all-reduces gradient buckets during the backward pass.
torch is imported by the functions that need it.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback

import numpy as np

from . import _reference, _validate, data, runtime
from ._reference import reference

_reference.reference_module(__name__)

METHODS = ("sync", "easgd")


def _elastic(x, g, center, mean, eta: float, alpha: float, beta: float):
    """The elastic round on numpy arrays or torch tensors: (x - eta g - alpha (x - center), (1 - beta) center +
    beta mean). ``x``, ``g``: one worker (d,) or all (p, d); ``center``, ``mean`` (d,)."""
    return x - eta * g - alpha * (x - center), (1 - beta) * center + beta * mean


def _check_alpha(alpha, p: int) -> float:
    alpha = _validate.as_nonnegative_float(alpha, "alpha")
    if p * alpha > 1 + 1e-12:
        raise ValueError(f"alpha must satisfy beta = p * alpha <= 1 (the center is a convex combination only then; "
                         f"it is unstable beyond), got alpha = {alpha:g} with p = {p} workers, beta = {p * alpha:g}: "
                         f"take alpha <= 1 / p = {1 / p:g}")
    return alpha


@reference
def easgd_round(workers, center, grads, eta, alpha):
    """One synchronous EASGD round: ``(new_workers (p, d), new_center (d,))``, float64.

    ``workers`` (p, d): the p workers' parameters x_i; ``center`` (d,): x~; ``grads`` (p, d): each worker's
    stochastic gradient g_i at x_i; ``eta`` > 0 the learning rate; ``alpha`` = eta rho >= 0 the elastic
    coefficient, with beta = p alpha <= 1 (larger is refused: the center would overshoot and diverge).
    x_i <- x_i - eta g_i - alpha (x_i - x~) and x~ <- (1 - beta) x~ + beta mean_i x_i, from the values before
    the round. alpha = 0: plain SGD for every worker, the center unchanged.
    """
    workers = _validate.as_matrix(workers, "workers")
    p, d = workers.shape
    center = _validate.as_vector(center, "center", d)
    grads = _validate.as_float_array(grads, "grads", ndim=2)
    if grads.shape != (p, d):
        raise ValueError(f"grads must have the shape of workers (p, d) = ({p}, {d}), one gradient per worker, "
                         f"got {grads.shape}")
    eta = _validate.as_positive_float(eta, "eta")
    alpha = _check_alpha(alpha, p)
    return _elastic(workers, grads, center, workers.mean(axis=0), eta, alpha, p * alpha)


# --- the model: softmax regression on a flat parameter vector ------------------------------------------------

def _unpack(theta, D: int, K: int):
    """Weights (D, K) and biases (K,) as views of the flat ``theta`` (D K + K,) (numpy or torch)."""
    return theta[:D * K].reshape(D, K), theta[D * K:]


def init_params(D: int, K: int, seed: int = 0) -> np.ndarray:
    """Softmax regression's starting point, the same on every worker: flat (D K + K,), W ~ 0.01 N(0, 1), b = 0."""
    W = 0.01 * _validate.as_rng(seed, "seed").standard_normal((D, K))
    return np.concatenate([W.ravel(), np.zeros(K)])


def _log_softmax(theta: np.ndarray, X: np.ndarray, K: int) -> np.ndarray:
    W, b = _unpack(theta, X.shape[1], K)
    Z = X @ W + b
    Z = Z - Z.max(axis=1, keepdims=True)
    return Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))


def loss_and_grad(theta: np.ndarray, X: np.ndarray, y: np.ndarray, K: int) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax regression on ``X`` (n, D), ``y`` (n,) and its gradient, flat like
    ``theta`` (D K + K,): X^T (softmax - onehot) / n for W, the column sums / n for b."""
    logp = _log_softmax(theta, X, K)
    R = np.exp(logp)
    R[np.arange(len(y)), y] -= 1.0
    R /= len(y)
    return float(-logp[np.arange(len(y)), y].mean()), np.concatenate([(X.T @ R).ravel(), R.sum(axis=0)])


def evaluate(theta: np.ndarray, X: np.ndarray, y: np.ndarray, K: int) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of the parameters ``theta`` (D K + K,) on ``X`` (n, D), ``y`` (n,)."""
    logp = _log_softmax(np.asarray(theta, dtype=np.float64), X, K)
    return float(np.mean(logp.argmax(axis=1) == y)), float(-logp[np.arange(len(y)), y].mean())


def shard_batches(n: int, workers: int, batch_size: int, epoch: int, seed: int = 0) -> np.ndarray:
    """Row indices (steps, workers, batch_size) of one epoch: worker r's mini-batch at each step.

    The n rows are dealt once (a permutation from ``seed``) into ``workers`` fixed shards of n // workers rows;
    each epoch every worker shuffles its own shard (seed, epoch, rank) and takes steps = (n // workers) //
    batch_size full batches from it (the few rows left over wait for another epoch).
    """
    n, p, B = (_validate.as_int(v, name) for v, name in ((n, "n"), (workers, "workers"), (batch_size, "batch_size")))
    epoch = _validate.as_int(epoch, "epoch", minimum=0)
    m = n // p
    if m < B:
        raise ValueError(f"each of the {p} workers needs a full batch: batch_size * workers = {B * p} must be "
                         f"<= n = {n}")
    shards = _validate.as_rng(seed, "seed").permutation(n)[:m * p].reshape(m, p).T        # shard r: rows r::p
    out = [s[np.random.default_rng([seed, epoch, r]).permutation(m)[:(m // B) * B]].reshape(-1, B)
           for r, s in enumerate(shards)]
    return np.stack(out, axis=1)


# --- the configurations --------------------------------------------------------------------------------------

def _split(split) -> tuple:
    """(X_train (n, D), X_test (m, D), y_train (n,), y_test (m,), K classes), checked; None: the digits."""
    X_train, X_test, y_train, y_test = data.digits_split() if split is None else split
    X_train = _validate.as_matrix(X_train, "X_train")
    X_test = _validate.as_matrix(X_test, "X_test", X_train.shape[1])
    K = int(max(np.max(y_train), np.max(y_test))) + 1
    y_train = _validate.as_class_labels(y_train, "y_train", len(X_train), K)
    y_test = _validate.as_class_labels(y_test, "y_test", len(X_test), K)
    return X_train, X_test, y_train, y_test, K


def _config(n: int, method: str, workers: int = 2, tau: int = 1, epochs: int = 3, lr: float = 0.1,
            alpha=None, batch_size: int = 32, seed: int = 0) -> dict:
    """One run's settings, checked; alpha None -> 0.9 / p (beta = 0.9, the paper's choice)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    p = _validate.as_int(workers, "workers")
    tau = _validate.as_int(tau, "tau")
    if method == "sync" and (tau != 1 or alpha is not None):
        raise ValueError("tau and alpha are EASGD's communication period and elastic coefficient; method='sync' "
                         "all-reduces the gradients at every step: leave tau=1 and alpha=None")
    alpha = (0.9 / p if alpha is None else _check_alpha(alpha, p)) if method == "easgd" else 0.0
    epochs = _validate.as_int(epochs, "epochs")
    lr = _validate.as_positive_float(lr, "lr")
    B = _validate.as_int(batch_size, "batch_size")
    seed = int(_validate.as_int(seed, "seed", minimum=0))
    steps = len(shard_batches(n, p, B, 0, seed))
    return dict(method=method, workers=p, tau=tau, alpha=alpha, epochs=epochs, lr=lr, batch_size=B, seed=seed,
                steps_per_epoch=steps)


def _history(cfg: dict) -> dict:
    return {**cfg, "epoch": [], "test accuracy": [], "test loss": [], "messages": [], "floats": []}


def _record(hist: dict, epoch: int, theta, X, y, K: int, messages: int) -> None:
    acc, loss = evaluate(theta, X, y, K)
    for key, value in (("epoch", epoch), ("test accuracy", acc), ("test loss", loss), ("messages", messages),
                       ("floats", messages * len(theta))):
        hist[key].append(value)


def simulate(method: str, workers: int = 2, tau: int = 1, epochs: int = 3, lr: float = 0.1, alpha=None,
             batch_size: int = 32, seed: int = 0, split=None) -> dict:
    """:func:`train_distributed` in one process with numpy, no messages actually sent: the same history (minus
    the timings), the same parameters up to rounding. The EASGD workers are the rows of a (p, d) matrix stepped
    by :func:`easgd_round` (with alpha = 0 between rounds). ``split``: (X_train, X_test, y_train, y_test),
    default :func:`dlcourse.data.digits_split`."""
    X, X_test, y, y_test, K = _split(split)
    cfg = _config(len(X), method, workers, tau, epochs, lr, alpha, batch_size, seed)
    p, hist = cfg["workers"], _history(cfg)
    center = init_params(X.shape[1], K, cfg["seed"])
    xs, messages, step = np.tile(center, (p, 1)), 0, 0
    _record(hist, 0, center, X_test, y_test, K, 0)
    for epoch in range(cfg["epochs"]):
        for batch in shard_batches(len(X), p, cfg["batch_size"], epoch, cfg["seed"]):
            grads = np.stack([loss_and_grad(xs[r], X[batch[r]], y[batch[r]], K)[1] for r in range(p)])
            step += 1
            talk = method == "sync" or step % cfg["tau"] == 0          # an all-reduce at this step
            messages += talk
            if method == "sync":
                xs = xs - cfg["lr"] * grads.mean(axis=0)
                center = xs[0]
            else:
                xs, center = easgd_round(xs, center, grads, cfg["lr"], cfg["alpha"] if talk else 0.0)
        _record(hist, epoch + 1, center, X_test, y_test, K, messages)
    hist["params"] = center
    return hist


# --- the real thing: p processes, torch.distributed, gloo --------------------------------------------------

def _train_worker(rank: int, cfg: dict, split, dist, torch) -> dict | None:
    """Train one configuration on this worker; rank 0 returns the history (the center's), the others None."""
    X_np, X_test, y_np, y_test, K = split
    p, lr, tau, alpha, D = cfg["workers"], cfg["lr"], cfg["tau"], cfg["alpha"], X_np.shape[1]
    X, y = torch.from_numpy(X_np), torch.from_numpy(y_np)
    theta = torch.from_numpy(init_params(D, K, cfg["seed"])).requires_grad_(True)
    center = theta.detach().clone()
    hist = _history(cfg) if rank == 0 else None
    if rank == 0:
        _record(hist, 0, center.numpy(), X_test, y_test, K, 0)
    messages, step = 0, 0
    dist.barrier()
    start = time.perf_counter()
    for epoch in range(cfg["epochs"]):
        for batch in shard_batches(len(X_np), p, cfg["batch_size"], epoch, cfg["seed"])[:, rank]:
            idx = torch.from_numpy(batch)
            W, b = _unpack(theta, D, K)
            loss = torch.nn.functional.cross_entropy(X[idx] @ W + b, y[idx])
            (g,) = torch.autograd.grad(loss, theta)
            step += 1
            with torch.no_grad():
                if cfg["method"] == "sync":                 # sum the gradients, / p: the same step everywhere
                    dist.all_reduce(g, op=dist.ReduceOp.SUM)
                    theta -= lr * (g / p)
                    center, messages = theta.detach(), messages + 1
                    continue
                talk = step % tau == 0
                a, mean = (alpha, theta.detach().clone()) if talk else (0.0, center)
                if talk:                                    # the elastic round: mean_i x_i from one all-reduce
                    dist.all_reduce(mean, op=dist.ReduceOp.SUM)
                    mean, messages = mean / p, messages + 1
                new_x, center = _elastic(theta, g, center, mean, lr, a, p * a)   # a = 0: a local SGD step
                theta.copy_(new_x)
        if rank == 0:
            _record(hist, epoch + 1, center.detach().numpy().copy(), X_test, y_test, K, messages)
    dist.barrier()
    if rank == 0:
        hist["wall time"] = time.perf_counter() - start
        hist["params"] = center.detach().numpy().copy()
    return hist


def _worker(rank: int, p: int, store: str, launched: float, timeout: float, payload):
    """A worker process: join the gloo group, train every configuration of ``payload`` = (configs, split); rank 0
    returns the start-up time and the histories."""
    from datetime import timedelta

    import torch
    import torch.distributed as dist

    if not runtime.is_full():
        runtime.pin_cpu_kernels()
    torch.set_num_threads(1)
    configs, split = payload
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=p,
                            timeout=timedelta(seconds=timeout))
    try:
        dist.barrier()
        startup = time.time() - launched
        results = [_train_worker(rank, cfg, split, dist, torch) for cfg in configs]
    finally:
        dist.destroy_process_group()
    return {"startup": startup, "histories": results} if rank == 0 else None


def _child(directory: str, rank: int) -> None:
    """A worker process's entry point: run the target pickled in ``directory``, write ("ok", result) or
    ("error", traceback) to ``directory/<rank>.pkl`` (atomically: a file then a rename)."""
    import pickle

    with open(os.path.join(directory, "job.pkl"), "rb") as f:
        target, p, launched, timeout, payload = pickle.load(f)
    try:
        out = ("ok", target(rank, p, os.path.join(directory, "store"), launched, timeout, payload))
    except BaseException:
        out = ("error", traceback.format_exc())
    with open(os.path.join(directory, f"{rank}.part"), "wb") as f:
        pickle.dump(out, f)
    os.replace(os.path.join(directory, f"{rank}.part"), os.path.join(directory, f"{rank}.pkl"))


def _return_free_heap() -> None:
    """Give the caller's freed heap back to the system before p more interpreters start (glibc's malloc keeps
    it otherwise: about 20 MB after a lecture's training); a no-op where there is no glibc."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _launch(target, p: int, timeout: float, payload):
    """Start p Python processes running ``target(rank, p, store, launched, timeout, payload)`` (a module-level
    function) and return rank 0's result. A worker's exception, a worker that dies, or ``timeout`` seconds without
    every worker done raise RuntimeError / TimeoutError here (the other workers are killed), never a hang.
    Plain subprocesses, not multiprocessing: nothing re-imports the caller's script or notebook."""
    import pickle
    import subprocess
    import sys

    with tempfile.TemporaryDirectory(prefix="dlcourse-dist-") as tmp:
        launched, deadline = time.time(), time.monotonic() + timeout
        with open(os.path.join(tmp, "job.pkl"), "wb") as f:
            pickle.dump((target, p, launched, timeout, payload), f)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        code = "import sys; from dlcourse.distributed import _child; _child(sys.argv[1], int(sys.argv[2]))"
        procs = []
        _return_free_heap()
        try:
            for r in range(p):
                with open(os.path.join(tmp, f"{r}.log"), "wb") as log:
                    procs.append(subprocess.Popen([sys.executable, "-c", code, tmp, str(r)], env=env,
                                                  stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
            results = {}
            while len(results) < p:
                for r, proc in enumerate(procs):
                    path = os.path.join(tmp, f"{r}.pkl")
                    if r in results or not os.path.exists(path):
                        if r not in results and proc.poll() not in (None, 0) and not os.path.exists(path):
                            with open(os.path.join(tmp, f"{r}.log"), errors="replace") as log:
                                tail = log.read()[-2000:]
                            raise RuntimeError(f"worker {r} of {p} died with exit code {proc.returncode}:\n{tail}")
                        continue
                    with open(path, "rb") as f:
                        status, results[r] = pickle.load(f)
                    if status == "error":
                        raise RuntimeError(f"worker {r} of {p} failed:\n{results[r]}")
                if len(results) < p:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the {p} workers did not finish within timeout = {timeout:g} s "
                                           f"({len(results)} done)")
                    time.sleep(0.02)
            for proc in procs:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            return results[0]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()


def train_distributed_many(runs, workers: int = 2, timeout: float = 120.0, split=None) -> list[dict]:
    """Several configurations, one after the other in one gloo process group of ``workers`` processes (the
    start-up is paid once). ``runs``: a list of dicts of :func:`train_distributed`'s keyword arguments
    (``method``, ``tau``, ``epochs``, ``lr``, ``alpha``, ``batch_size``, ``seed``); returns their histories."""
    split = _split(split)
    p = _validate.as_int(workers, "workers")
    timeout = _validate.as_positive_float(timeout, "timeout")
    if isinstance(runs, dict) or not all(isinstance(r, dict) for r in runs) or not runs:
        raise ValueError("runs must be a non-empty list of dicts of train_distributed's arguments, "
                         "e.g. [dict(method='sync'), dict(method='easgd', tau=4)]")
    keys = {"method", "tau", "epochs", "lr", "alpha", "batch_size", "seed"}
    for run in runs:
        if set(run) - keys:
            raise ValueError(f"a run may set only {sorted(keys)}, got {sorted(set(run) - keys)}")
    configs = [_config(len(split[0]), **run, workers=p) for run in runs]
    result = _launch(_worker, p, timeout, (configs, split))
    for hist in result["histories"]:
        hist["startup"] = result["startup"]
    return result["histories"]


def train_distributed(method: str, workers: int = 2, tau: int = 1, epochs: int = 3, lr: float = 0.1,
                      alpha=None, batch_size: int = 32, seed: int = 0, timeout: float = 120.0, split=None) -> dict:
    """Train softmax regression with ``workers`` processes and torch.distributed (gloo); return the history.

    ``method="sync"``: data-parallel SGD, one all-reduce of the gradients per step. ``method="easgd"``: local
    SGD steps and an elastic round (:func:`easgd_round`'s formula) every ``tau`` steps, the center kept identical
    on every worker through one all-reduce of the parameters; ``alpha`` None: 0.9 / workers. Each worker takes
    ``batch_size`` rows of its shard per step (:func:`shard_batches`), ``lr`` the step size, ``seed`` the
    initialisation and the shuffling. ``split``: (X_train, X_test, y_train, y_test), default the digits.

    The history: the settings; per epoch 0..epochs, ``"epoch"``, the center's (sync: the shared model's)
    ``"test accuracy"`` and ``"test loss"``, the cumulated ``"messages"`` (all-reduce calls) and ``"floats"``
    (d per all-reduce) each worker sent; ``"params"`` the final center (d,); ``"wall time"`` of the training and
    ``"startup"``, seconds from the launch until every worker had joined the group. A failing worker raises
    RuntimeError, ``timeout`` seconds without the end TimeoutError.
    """
    return train_distributed_many([dict(method=method, tau=tau, epochs=epochs, lr=lr, alpha=alpha,
                                        batch_size=batch_size, seed=seed)], workers, timeout, split)[0]

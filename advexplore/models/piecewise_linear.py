"""A scalar-output ReLU network as the list of its affine maps, the form that exact solvers
and certified bounds work on (advexplore.exact, advexplore.bounds):

    f(x) = A_{L+1} relu(A_L … relu(A_1 x) …),   A_k(v) = W_k v + b_k,

with ReLU between consecutive maps and none after the last (W_{L+1} has one row); and, for
inputs in the plane, the convex polygons on which such a net is affine (its linear regions).
"""
from __future__ import annotations

import math

import torch
import numpy as np
from torch import nn

from .mlp import MLP
from .two_layer import TwoLayerNet

Affine = tuple[torch.Tensor, torch.Tensor]  # (W (out, in), b (out,))

SUPPORTED = ("MLP(activation='relu', out_dim=1)", "TwoLayerNet(activation='relu')",
             "nn.Sequential of nn.Linear and nn.ReLU ending in a Linear with one output")


def _linear(layer: nn.Linear, dtype) -> Affine:
    w = layer.weight.detach().to(dtype)
    b = layer.bias.detach().to(dtype) if layer.bias is not None else w.new_zeros(w.shape[0])
    return w, b


def _unsupported(model: nn.Module, why: str) -> TypeError:
    return TypeError(f"{type(model).__name__}: {why}; exact maxima and IBP/CROWN bounds need a "
                     f"scalar-output ReLU network: one of {SUPPORTED}")


def affine_layers(model: nn.Module, dtype=torch.float64) -> list[Affine]:
    """[(W_1, b_1), …, (W_{L+1}, b_{L+1})] of a scalar-output ReLU net, detached, in `dtype`
    (float64 by default: the exact solvers work in double precision). Consecutive Linear
    layers of a Sequential (no ReLU between them) are composed into one affine map.
    Raises TypeError for other models (smooth activations, several outputs, other layers)."""
    if isinstance(model, MLP):
        if model.activation != "relu" or model.out_dim != 1:
            raise _unsupported(model, f"activation={model.activation!r}, out_dim={model.out_dim}")
        layers = [_linear(layer, dtype) for layer in model.layers]
    elif isinstance(model, TwoLayerNet):
        if model.activation != "relu":
            raise _unsupported(model, f"activation={model.activation!r}")
        theta = model.theta.detach().to(dtype)  # (d, h)
        a = model.a.detach().to(dtype) / math.sqrt(model.h)
        layers = [(theta.T.contiguous(), theta.new_zeros(model.h)), (a[None, :], a.new_zeros(1))]
    elif isinstance(model, nn.Linear):
        layers = [_linear(model, dtype)]
    elif isinstance(model, nn.Sequential):
        layers, pending = [], None
        for module in model:
            if isinstance(module, nn.Linear):
                w, b = _linear(module, dtype)
                pending = (w, b) if pending is None else (w @ pending[0], w @ pending[1] + b)
            elif isinstance(module, nn.ReLU) and pending is not None:
                layers.append(pending)
                pending = None
            else:
                raise _unsupported(model, f"layer {type(module).__name__} where a Linear"
                                   + ("" if pending is None else " or ReLU") + " was expected")
        if pending is None:
            raise _unsupported(model, "it does not end in a Linear layer")
        layers.append(pending)
    else:
        raise _unsupported(model, "unknown architecture")
    if layers[-1][0].shape[0] != 1:
        raise _unsupported(model, f"{layers[-1][0].shape[0]} outputs")
    return layers


def forward(layers, z: np.ndarray) -> np.ndarray:
    """f(z) for z of shape (m, d) -> (m,), with numpy (W, b) layers."""
    for w, b in layers[:-1]:
        z = np.maximum(z @ w.T + b, 0.0)
    return (z @ layers[-1][0].T + layers[-1][1])[:, 0]


def _next(a: np.ndarray) -> np.ndarray:
    """a shifted by one along axis 0 (the next vertex of a polygon): np.roll(a, -1, 0), faster."""
    return np.concatenate((a[1:], a[:1]))


def _half(V: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The part of convex polygon V (m, 2) where s ≥ 0 (s affine, given at the vertices):
    Sutherland–Hodgman clipping against one half-plane."""
    s_next, V_next = _next(s), _next(V)
    crossing = ((s > 0) & (s_next < 0)) | ((s < 0) & (s_next > 0))
    t = np.where(crossing, s / np.where(crossing, s - s_next, 1.0), 0.0)[:, None]
    points = np.stack([V, V + t * (V_next - V)], axis=1)  # (m, 2, 2): vertex, crossing after it
    return points[np.stack([s >= 0, crossing], axis=1)]


def _interval_of_f(layers, k: int, V, G, h):
    """[lo, hi] ∋ f on polygon V where the output of layers[k] is G z + h: its exact range
    over V (affine: attained at vertices), then IBP (Gowal et al. 2018) through the rest.
    layers: (W, b, |W|) triples."""
    values = V @ G.T + h
    low, high = values.min(axis=0), values.max(axis=0)
    for w, b, w_abs in layers[k + 1:]:
        low, high = np.maximum(low, 0.0), np.maximum(high, 0.0)
        centre, radius = w @ ((low + high) / 2) + b, w_abs @ ((high - low) / 2)
        low, high = centre - radius, centre + radius
    return low[0], high[0]


def _outside_disk(V: np.ndarray, c: np.ndarray, radius: float) -> bool:
    """Whether the convex counter-clockwise polygon V lies farther than radius from c."""
    p = c - V
    if ((p * p).sum(1) <= radius ** 2).any():
        return False
    e = _next(V) - V
    if (e[:, 0] * p[:, 1] - e[:, 1] * p[:, 0] >= 0).all():  # c inside V
        return False
    t = np.clip((p * e).sum(1) / np.maximum((e * e).sum(1), 1e-300), 0.0, 1.0)
    return bool((((p - t[:, None] * e) ** 2).sum(1) > radius ** 2).all())


def extreme_points_2d(layers, centre: np.ndarray, eps: float, norm: str, y: float,
                      max_pieces: int = 200_000):
    """Points of the ball ‖z − centre‖ ≤ ε (L2 disk or L∞ square, d = 2) among which
    (f(z) − y)² attains its maximum over the ball: (k, 2), and the number of pieces kept.

    f is affine on each linear piece P; max of g·z + c over P ∩ ball lies at a vertex of P in
    the ball, an edge's intersection with the circle, or the tangent point centre ± ε g/‖g‖
    (L2); at a vertex of P (L∞). Branch and bound: a piece (or part of one, while it is cut)
    is dropped as soon as an interval bound of (f − y)² on it is ≤ the best value at 256
    points of the boundary and the centre (returned too), or (L2) it lies outside the disk."""
    t = np.arange(256) * (2 * np.pi / 256)
    ring = np.stack([np.cos(t), np.sin(t)], axis=1)
    if norm == "linf":
        ring = np.concatenate([ring / np.abs(ring).max(axis=1, keepdims=True), [[1, 1], [-1, 1], [-1, -1], [1, -1]]])
    seeds = centre + eps * np.concatenate([np.zeros((1, 2)), ring])
    best = ((forward(layers, seeds) - y) ** 2).max()
    with_abs = [(w, b, np.abs(w)) for w, b in layers]

    def prune(k, V, G, h):
        if norm == "l2" and _outside_disk(V, centre, eps):
            return True
        low, high = _interval_of_f(with_abs, k, V, G, h)
        return max((high - y) ** 2, (low - y) ** 2) <= best

    pieces = linear_pieces_2d(layers, centre, eps, max_pieces, prune)
    points = [seeds] + [P for P, _, _ in pieces]
    if norm == "l2":
        for P, g, _ in pieces:
            if np.linalg.norm(g) > 0:
                points.append(centre + eps * np.stack([g, -g]) / np.linalg.norm(g))
            e, p = _next(P) - P, P - centre  # edges p + τe, τ ∈ [0, 1]
            qa, qb, qc = (e * e).sum(1), (e * p).sum(1), (p * p).sum(1) - eps ** 2
            disc = qb ** 2 - qa * qc
            ok = (disc >= 0) & (qa > 0)
            for root in (-1.0, 1.0):
                tau = (-qb[ok] + root * np.sqrt(disc[ok])) / qa[ok]
                inside = (tau >= 0) & (tau <= 1)
                points.append(P[ok][inside] + tau[inside, None] * e[ok][inside])
    points = np.concatenate(points)
    if norm == "linf":
        return np.clip(points, centre - eps, centre + eps), len(pieces)
    points = points[np.linalg.norm(points - centre, axis=1) <= eps * (1 + 1e-9)]
    scale = np.minimum(1.0, eps / np.maximum(np.linalg.norm(points - centre, axis=1), 1e-300))
    return centre + scale[:, None] * (points - centre), len(pieces)


def linear_pieces_2d(layers, centre: np.ndarray, half_width: float, max_pieces: int = 200_000,
                     prune=None):
    """The linear regions of a ReLU net (numpy (W, b) layers, d = 2) inside the square
    centre ± half_width: [(V (m, 2) convex polygon, g (2,), c)] with f(z) = g·z + c on V.

    Layer by layer, each polygon is cut along the zero line of every neuron whose
    pre-activation changes sign on it (one hidden layer: the arrangement of the ReLU lines;
    deeper: its refinement, lines bent at the earlier layers' lines). prune(k, V, G, h) -> True
    drops a polygon on which the output of layers[k] is G z + h (checked on every part as
    it is cut, and on the final pieces). ValueError past max_pieces pieces."""
    square = centre + half_width * np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    pieces = [(square, np.eye(2), np.zeros(2))]  # (polygon, G, h): input of the next layer G z + h

    def kept(k, V, G, h):
        return len(V) >= 3 and (prune is None or not prune(k, V, G, h))

    for k, (w, b) in enumerate(layers[:-1]):
        refined = []
        for V, G, h in pieces:
            Gk, hk = w @ G, w @ h + b  # pre-activations on this piece: Gk z + hk
            if not kept(k, V, Gk, hk):
                continue
            values = V @ Gk.T + hk
            tol = 1e-12 * (np.abs(values).max() + 1.0)
            parts = [V]
            for j in np.flatnonzero((values.min(axis=0) < -tol) & (values.max(axis=0) > tol)):
                cut = []
                for P in parts:
                    s = P @ Gk[j] + hk[j]
                    if s.min() < -tol and s.max() > tol:
                        cut += [Q for Q in (_half(P, s), _half(P, -s)) if kept(k, Q, Gk, hk)]
                    else:
                        cut.append(P)
                parts = cut
            for P in parts:
                on = (P.mean(axis=0) @ Gk.T + hk > 0).astype(float)  # the pattern inside P
                refined.append((P, Gk * on[:, None], hk * on))
        pieces = refined
        if len(pieces) > max_pieces:
            raise ValueError(f"the square around {centre} cuts the net into more than "
                             f"{max_pieces} linear pieces (max_regions)")
    w, b = layers[-1]
    final = [(V, w @ G, w @ h + b) for V, G, h in pieces]
    return [(V, g[0], c[0]) for V, g, c in final if kept(len(layers) - 1, V, g, c)]


__all__ = ["SUPPORTED", "affine_layers", "extreme_points_2d", "forward", "linear_pieces_2d"]

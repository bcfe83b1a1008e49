"""Recurrent layers on sequences x (N, T, D), as PyTorch's batch_first=True: RNN, LSTM, GRU.

forward runs the recurrence one time step at a time, t = 0 .. T-1, from h0 (zeros unless
given), and keeps what backward needs. backward is backpropagation through time (BPTT): the
same steps in reverse, t = T-1 .. 0, where the gradient that reaches h_t is the output's own,
dout_t, plus dh_next, the one coming back from step t+1.

Inside, arrays are time-major, (T, N, ...), so that step t is simply xs[t]. The input's part
of every step, x Wx + b, is one matrix product before the loop, and the weight gradients are
one product each after it; only what depends on h_{t-1} runs step by step.

After backward a layer keeps dh0 (the LSTM also dc0), and dh (N, T, H): dL/dh_t at every step,
which shows the gradient shrinking (vanishing) or growing (exploding) on its way back in time.
"""

from __future__ import annotations

import numpy as np

from . import recurrent_variants as variants
from .base import Layer, positive_int


def sigmoid(a: np.ndarray) -> np.ndarray:
    """σ(a) = 1 / (1 + e⁻ᵃ), computed as (1 + tanh(a / 2)) / 2: equal, and never overflows."""
    return 0.5 + 0.5 * np.tanh(0.5 * a)


class Recurrent(Layer):
    """What RNN, LSTM and GRU share: sizes, weights, h0, the output, and the checker's hints.

    Wx (D, G) and Wh (H, G), G = gates·H: one block of H columns per gate; biases as named in
    `biases`, (G,) each. init: Wx, Wh ~ U(-1/√H, 1/√H) as torch.nn.RNN; biases 0.
    """

    gates = 1  # blocks of H columns in Wx and Wh
    gate_names: tuple[str, ...] = ()  # the blocks' names, for the checker's reports
    biases: tuple[str, ...] = ("b",)
    initial_states: tuple[str, ...] = ("h0",)  # what forward takes besides x
    stackable = True  # x (K, N, T, D): every axis before T is a batch axis
    smooth = True

    def __init__(self, input_size: int, hidden_size: int, seed: int | None = None,
                 return_sequences: bool = True) -> None:
        super().__init__()
        name = type(self).__name__
        D = self.input_size = positive_int(name, "input_size", input_size)
        H = self.hidden_size = positive_int(name, "hidden_size", hidden_size)
        if not isinstance(return_sequences, (bool, np.bool_)):
            raise TypeError(f"{name}: return_sequences must be True or False, "
                            f"got {return_sequences!r}")
        self.seed, self.return_sequences = seed, bool(return_sequences)
        rng = np.random.default_rng(seed)
        G, bound = self.gates * H, 1 / np.sqrt(H)
        self.params = {"Wx": rng.uniform(-bound, bound, (D, G)),
                       "Wh": rng.uniform(-bound, bound, (H, G)),
                       **{b: np.zeros(G) for b in self.biases}}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.dh0 = self.dh = None

    def _begin(self, x: np.ndarray, **states) -> tuple[np.ndarray, ...]:
        """x (..., N, T, D) as time-major xs (T, ..., N, D), then each initial state given as
        a keyword (h0=..., c0=...), (..., N, H), zeros where None."""
        D, H = self.input_size, self.hidden_size
        x = np.asarray(x)
        if x.dtype.kind != "f":
            raise TypeError(f"{self!r} expects float inputs (N, T, {D}), got dtype {x.dtype}; "
                            f"token ids go through an Embedding first")
        if x.ndim < 3 or x.shape[-1] != D or x.shape[-2] == 0:
            raise ValueError(f"{self!r} expects input of shape (N, T, {D}) with T >= 1, "
                             f"got {x.shape}")
        shape, dtype = (*x.shape[:-2], H), np.result_type(x, self.params["Wx"])
        initial = []
        for name, s in states.items():
            if s is not None and np.shape(s) != shape:
                raise ValueError(f"{self!r}: {name} must have shape {shape}, one state per "
                                 f"sample, got {np.shape(s)}")
            initial.append(np.zeros(shape, dtype) if s is None else np.asarray(s, dtype))
        return np.moveaxis(x, -2, 0), *initial

    def _output(self, hs: np.ndarray) -> np.ndarray:
        """hs (T, ..., N, H) -> (..., N, T, H), or h_T (..., N, H) without return_sequences."""
        return np.moveaxis(hs, 0, -2) if self.return_sequences else hs[-1]

    def _upstream(self, dout: np.ndarray, hs: np.ndarray) -> np.ndarray:
        """dL/dh_t from the output alone, time-major (T, ..., N, H): dout itself, or, without
        return_sequences, zeros at every step but the last."""
        want = np.moveaxis(hs, 0, -2).shape if self.return_sequences else hs.shape[1:]
        if np.shape(dout) != want:
            raise ValueError(f"{self!r}: dout must have the shape of the output, {want}, "
                             f"got {np.shape(dout)}")
        if self.return_sequences:
            return np.moveaxis(dout, -2, 0)
        d = np.zeros_like(hs, dtype=dout.dtype)
        d[-1] = dout
        return d

    def _sums(self, xs, h0, hs, dxw, dhw) -> np.ndarray | None:
        """The gradients summed over the steps, one product each; returns dx (..., N, T, D).

        dxw = dL/d(x_t Wx + bx), dhw = dL/d(h_{t-1} Wh + bh), time-major (T, ..., N, G); for
        RNN and LSTM, whose one bias b sits in both, they are the same array.
        dWx = Σ_t x_tᵀ dxw_t,  dWh = Σ_t h_{t-1}ᵀ dhw_t,  db = Σ_t dxw_t (GRU: dbx from dxw,
        dbh from dhw),  dx_t = dxw_t Wxᵀ.
        """
        rows = lambda a: a.reshape(-1, a.shape[-1])  # noqa: E731  every (t, n) is one row
        hprev = np.concatenate([h0[None], hs[:-1]])  # h_{t-1} for t = 0 .. T-1
        self.grads["Wx"] = rows(xs).T @ rows(dxw)
        self.grads["Wh"] = rows(hprev).T @ rows(dhw)
        for name, d in zip(self.biases, (dxw, dhw)):
            self.grads[name] = rows(d).sum(axis=0)
        return np.moveaxis(dxw @ self.params["Wx"].T, 0, -2) if self.input_grad else None

    def _keep(self, dh: np.ndarray, dh0: np.ndarray) -> None:
        """Keep dL/dh_t of every step, batch-first (N, T, H), and dL/dh0 (N, H)."""
        self.dh, self.dh0 = np.moveaxis(dh, 0, -2), dh0

    # ---- hints for the gradient checker: K weight variants in one pass -------------------

    def nudged(self, x: np.ndarray, name: str, index: np.ndarray, delta: np.ndarray,
               base: np.ndarray | None = None, **states) -> np.ndarray:
        """Outputs (K, N, ...) when entry index[k] of params[name] moves by delta[k]; states
        are forward's h0 (and c0), shared by every variant.

        One product per step serves all K (recurrent_variants.py), when the steps there were
        written for the forward this layer runs; otherwise forward on K weight copies.
        """
        steps = self._variant_steps()
        if steps is not None and np.ndim(x) == 3:
            nudge = variants.Nudge.of(self.params[name], name, index, delta)
            return variants.run(self, steps, x, nudge, states)
        copies = np.repeat(self.params[name][None], len(index), axis=0)
        copies.reshape(len(index), -1)[np.arange(len(index)), index] += delta
        return self._forward_variants(x, name, copies, **states)

    def _variant_steps(self):
        """The lean loop written next to this layer's forward (None when a subclass, or the
        object itself, brings a forward of its own: the loop describes the one it was
        written for)."""
        if "forward" in vars(self):
            return None
        writer = next(c for c in type(self).__mro__ if "forward" in vars(c))
        return vars(writer).get("variant_steps")

    def nudged_along(self, x: np.ndarray, name: str, directions: np.ndarray, eps: float,
                     base: np.ndarray | None = None) -> np.ndarray:
        """Outputs (2K, N, ...) with params[name] moved by +eps u_k (first K), then -eps u_k."""
        p = self.params[name]
        return self._forward_variants(x, name, np.concatenate([p + eps * directions,
                                                                p - eps * directions]))

    def _forward_variants(self, x: np.ndarray, name: str, variants: np.ndarray,
                          **states) -> np.ndarray:
        """forward of K copies of x at once, copy k with params[name] = variants[k].

        The variants stand in for the tensor during one forward: a weight as (K, in, G),
        which matmul pairs with copy k of the batch ((K, N, H) @ (K, H, G)), a bias as
        (K, 1, G), which broadcasts. One pass instead of K, and no step loop repeated.
        """
        p, K = self.params[name], len(variants)
        states = {k: None if s is None else np.broadcast_to(s, (K, *np.shape(s)))
                  for k, s in states.items()}
        try:
            self.params[name] = variants if p.ndim == 2 else variants[:, None]
            return self.forward(np.broadcast_to(x, (K, *np.shape(x))), **states)
        finally:
            self.params[name] = p

    def output_shape(self, shape: tuple | None) -> tuple:
        """(T, D) of one sample -> (T, H), or (H,) without return_sequences; T may be None."""
        T = shape[0] if shape is not None and len(shape) == 2 else None
        return (T, self.hidden_size) if self.return_sequences else (self.hidden_size,)

    def config(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "seed": self.seed, "return_sequences": self.return_sequences}


class RNN(Recurrent):
    """Vanilla RNN: h_t = tanh(x_t Wx + h_{t-1} Wh + b), as torch.nn.RNN (tanh, batch_first).

    forward:  x (N, T, D), h0 (N, H) or None (zeros) -> hs (N, T, H), or h_T (N, H) when
              return_sequences is False;  Wx (D, H), Wh (H, H), b (H,)
    backward: dout (the output's shape) -> dx (N, T, D); fills dWx, dWh, db; keeps dh0 (N, H)
              and dh (N, T, H).  For t = T-1 .. 0:
                  dh_t = dout_t + dh_next        (from the output, and from step t+1)
                  da_t = dh_t ⊙ (1 - h_t²)       (through tanh)
                  dh_next = da_t Whᵀ             (on to h_{t-1}; after t = 0 it is dh0)
              then dWx = Σ_t x_tᵀ da_t, dWh = Σ_t h_{t-1}ᵀ da_t, db = Σ_t da_t, dx_t = da_t Wxᵀ.
    """

    variant_steps = staticmethod(variants.rnn_steps)  # forward's loop, for the checker only

    def forward(self, x: np.ndarray, h0: np.ndarray | None = None) -> np.ndarray:
        xs, h0 = self._begin(x, h0=h0)  # xs (T, N, D): step t is xs[t]
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        xw = xs @ Wx + b  # every step's input term, one product
        hs = np.empty(xw.shape[:-1] + (self.hidden_size,), xw.dtype)
        h = h0
        for t in range(len(xs)):
            h = np.tanh(xw[t] + h @ Wh)
            hs[t] = h
        self.cache, self.last_state = (xs, h0, hs), (h,)
        return self._output(hs)

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        xs, h0, hs = self.cache
        dout = self._upstream(dout, hs)
        WhT = self.params["Wh"].T.copy()  # contiguous: the loop multiplies by it T times
        dh, da = np.empty_like(hs), np.empty_like(hs)
        dh_next = np.zeros_like(h0)
        for t in reversed(range(len(hs))):
            dh[t] = dout[t] + dh_next
            da[t] = dh[t] * (1 - hs[t] ** 2)
            dh_next = da[t] @ WhT
        self._keep(dh, dh_next)
        return self._sums(xs, h0, hs, da, da)


class LSTM(Recurrent):
    """Long short-term memory; gates in CS231n's order i, f, o, g (torch orders them i, f, g, o).

    forward:  x (N, T, D), h0 and c0 (N, H) or None (zeros) -> hs (N, T, H), or h_T (N, H)
              when return_sequences is False;  Wx (D, 4H), Wh (H, 4H), b (4H,).  Each step:
                  a = x_t Wx + h_{t-1} Wh + b                    (N, 4H), H columns per gate
                  i, f, o = σ(a[:, :H]), σ(a[:, H:2H]), σ(a[:, 2H:3H]);  g = tanh(a[:, 3H:])
                  c_t = f ⊙ c_{t-1} + i ⊙ g;   h_t = o ⊙ tanh(c_t)
    backward: dout (the output's shape) -> dx (N, T, D); fills dWx, dWh, db; keeps dh0, dc0
              (N, H) and dh, dc (N, T, H).  For t = T-1 .. 0:
                  dh_t = dout_t + dh_next
                  dc_t = dc_next + dh_t ⊙ o ⊙ (1 - tanh²(c_t))   (the cell path, and via h_t)
                  di, df, do, dg = dc_t ⊙ g, dc_t ⊙ c_{t-1}, dh_t ⊙ tanh(c_t), dc_t ⊙ i
                  da_t = [di ⊙ i(1-i), df ⊙ f(1-f), do ⊙ o(1-o), dg ⊙ (1-g²)]
                  dh_next = da_t Whᵀ;   dc_next = dc_t ⊙ f
              then dWx, dWh, db and dx from da as in RNN.
    """

    gates, gate_names = 4, ("input i", "forget f", "output o", "cell candidate g")
    initial_states = ("h0", "c0")
    variant_steps = staticmethod(variants.lstm_steps)
    dc0: np.ndarray | None = None  # after backward: dL/dc0 (N, H), and dc (N, T, H)
    dc: np.ndarray | None = None

    def forward(self, x: np.ndarray, h0: np.ndarray | None = None,
                c0: np.ndarray | None = None) -> np.ndarray:
        xs, h0, c0 = self._begin(x, h0=h0, c0=c0)
        H = self.hidden_size
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        xw = xs @ Wx + b
        gates = np.empty(xw.shape, xw.dtype)  # i, f, o, g of every step
        hs, cs = (np.empty(xw.shape[:-1] + (H,), xw.dtype) for _ in range(2))
        h, c = h0, c0
        for t in range(len(xs)):
            a = xw[t] + h @ Wh
            gates[t, ..., :3 * H] = sigmoid(a[..., :3 * H])
            gates[t, ..., 3 * H:] = np.tanh(a[..., 3 * H:])
            i, f, o, g = np.split(gates[t], 4, axis=-1)
            c = f * c + i * g
            h = o * np.tanh(c)
            hs[t], cs[t] = h, c
        self.cache, self.last_state = (xs, h0, c0, hs, cs, gates), (h, c)
        return self._output(hs)

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        xs, h0, c0, hs, cs, gates = self.cache
        dout = self._upstream(dout, hs)
        H, WhT = self.hidden_size, self.params["Wh"].T.copy()
        c_prev, tanh_c = np.concatenate([c0[None], cs[:-1]]), np.tanh(cs)
        slopes = gates * (1 - gates)  # σ' = σ(1 - σ) for i, f, o ...
        slopes[..., 3 * H:] = 1 - gates[..., 3 * H:] ** 2  # ... and tanh' = 1 - g² for g
        dh, dc, da = np.empty_like(hs), np.empty_like(cs), np.empty_like(gates)
        dh_next, dc_next = np.zeros_like(h0), np.zeros_like(c0)
        for t in reversed(range(len(hs))):
            i, f, o, g = np.split(gates[t], 4, axis=-1)
            dh[t] = dout[t] + dh_next
            dc[t] = dc_next + dh[t] * o * (1 - tanh_c[t] ** 2)
            di, df, do, dg = dc[t] * g, dc[t] * c_prev[t], dh[t] * tanh_c[t], dc[t] * i
            da[t] = np.concatenate([di, df, do, dg], axis=-1) * slopes[t]
            dh_next, dc_next = da[t] @ WhT, dc[t] * f
        self._keep(dh, dh_next)
        self.dc, self.dc0 = np.moveaxis(dc, 0, -2), dc_next
        return self._sums(xs, h0, hs, da, da)


class GRU(Recurrent):
    """Gated recurrent unit with torch.nn.GRU's equations; blocks r, z, n in torch's order.

    forward:  x (N, T, D), h0 (N, H) or None (zeros) -> hs (N, T, H), or h_T (N, H) when
              return_sequences is False;  Wx (D, 3H), Wh (H, 3H), bx (3H,), bh (3H,).  Each step:
                  xw = x_t Wx + bx;   hw = h_{t-1} Wh + bh      (N, 3H) each: blocks r, z, n
                  r = σ(xw_r + hw_r);   z = σ(xw_z + hw_z);   n = tanh(xw_n + r ⊙ hw_n)
                  h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
    backward: dout (the output's shape) -> dx (N, T, D); fills dWx, dWh, dbx, dbh; keeps dh0
              (N, H) and dh (N, T, H).  For t = T-1 .. 0:
                  dh_t = dout_t + dh_next
                  dn = dh_t ⊙ (1 - z) ⊙ (1 - n²);   dz = dh_t ⊙ (h_{t-1} - n) ⊙ z(1 - z)
                  dr = dn ⊙ hw_n ⊙ r(1 - r)
                  dxw = [dr, dz, dn];   dhw = [dr, dz, dn ⊙ r]
                  dh_next = dh_t ⊙ z + dhw Whᵀ
              then dWx = Σ_t x_tᵀ dxw_t, dbx = Σ_t dxw_t, dWh = Σ_t h_{t-1}ᵀ dhw_t,
              dbh = Σ_t dhw_t, dx_t = dxw_t Wxᵀ.
    """

    gates, biases = 3, ("bx", "bh")
    gate_names = ("reset r", "update z", "new n")
    variant_steps = staticmethod(variants.gru_steps)

    def forward(self, x: np.ndarray, h0: np.ndarray | None = None) -> np.ndarray:
        xs, h0 = self._begin(x, h0=h0)
        H = self.hidden_size
        Wx, Wh, bx, bh = (self.params[k] for k in ("Wx", "Wh", "bx", "bh"))
        xw = xs @ Wx + bx
        steps = xw.shape[:-1]
        rz, n_all, hw_n, hs = (np.empty(steps + (w,), xw.dtype) for w in (2 * H, H, H, H))
        h = h0
        for t in range(len(xs)):
            hw = h @ Wh + bh
            rz[t] = sigmoid(xw[t, ..., :2 * H] + hw[..., :2 * H])
            r, z = np.split(rz[t], 2, axis=-1)
            n = np.tanh(xw[t, ..., 2 * H:] + r * hw[..., 2 * H:])
            h = (1 - z) * n + z * h
            n_all[t], hw_n[t], hs[t] = n, hw[..., 2 * H:], h
        self.cache, self.last_state = (xs, h0, hs, rz, n_all, hw_n), (h,)
        return self._output(hs)

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        xs, h0, hs, rz, n_all, hw_n = self.cache
        dout = self._upstream(dout, hs)
        WhT = self.params["Wh"].T.copy()
        h_prev = np.concatenate([h0[None], hs[:-1]])
        dh = np.empty_like(hs)
        dxw = np.empty(rz.shape[:-1] + (3 * hs.shape[-1],), hs.dtype)  # dL/d(x_t Wx + bx)
        dhw = np.empty_like(dxw)  # dL/d(h_{t-1} Wh + bh)
        dh_next = np.zeros_like(h0)
        for t in reversed(range(len(hs))):
            r, z = np.split(rz[t], 2, axis=-1)
            n = n_all[t]
            dh[t] = dout[t] + dh_next
            dn = dh[t] * (1 - z) * (1 - n ** 2)
            dz = dh[t] * (h_prev[t] - n) * z * (1 - z)
            dr = dn * hw_n[t] * r * (1 - r)
            dxw[t] = np.concatenate([dr, dz, dn], axis=-1)
            dhw[t] = np.concatenate([dr, dz, dn * r], axis=-1)
            dh_next = dh[t] * z + dhw[t] @ WhT
        self._keep(dh, dh_next)
        return self._sums(xs, h0, hs, dxw, dhw)

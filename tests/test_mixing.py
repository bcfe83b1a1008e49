"""A gradient that mixes dout along one axis by a matrix (gradcheck/mixing.py): yours and the
true one's matrix read off, and named when they are an array the layer holds."""

import numpy as np
from test_structure import findings, normal

import minnet as mn


class CausalAverage(mn.Layer):
    """y_t = (x_t + x_{t-1})/2 (x_{-1} = 0) along time.  x (N, T, D) -> y (N, T, D)."""

    def forward(self, x):
        T = x.shape[1]
        self.A = np.zeros((T, T))
        for t in range(T):
            self.A[t, t] = 0.5
            if t > 0:
                self.A[t, t - 1] = 0.5
        return np.einsum("ts,nsd->ntd", self.A, x)

    def backward(self, dout):
        return np.einsum("st,nsd->ntd", self.A, dout)


class CausalAverageForwardMap(CausalAverage):
    def backward(self, dout):
        return np.einsum("ts,nsd->ntd", self.A, dout)  # forward's map, not its transpose


def test_forwards_map_applied_to_dout_is_named_against_its_transpose():
    x = normal((5, 4, 3), seed=2)
    assert not mn.check_layer(CausalAverage(), x).failed
    text = findings(mn.check_layer(CausalAverageForwardMap(), x))
    assert ("along the time steps (axis 1), dout mixed by a matrix M, the same for every other "
            "index (dx[t] = Σ_s M[t, s]·dout[s]): your M = self.A (4 × 4); the true one's M = "
            "self.Aᵀ (4 × 4)") in text


class Smooth(mn.Layer):
    """y = A⁻¹x along time, A = I + L (a smoothing solve).  x (N, T, D) -> y (N, T, D)."""

    def forward(self, x):
        T = x.shape[1]
        self.A = np.eye(T) * 2.0 - np.eye(T, k=1) * 0.5 - np.eye(T, k=-1) * 0.3
        return np.einsum("ts,nsd->ntd", np.linalg.inv(self.A), x)

    def backward(self, dout):
        return np.einsum("st,nsd->ntd", self.A, dout)  # Aᵀ·dout where A⁻ᵀ·dout belongs


def test_a_matrix_where_its_inverse_belongs_is_named():
    text = findings(mn.check_layer(Smooth(), normal((5, 4, 3), seed=2)))
    assert "your M = self.Aᵀ (4 × 4); the true one's M = self.A⁻ᵀ (4 × 4)" in text


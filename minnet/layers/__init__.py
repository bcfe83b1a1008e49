"""Layers. Each forward caches what its backward needs; backward fills `grads` and returns dL/dx.

One family per file, in the order a course meets them:
    base.py           Layer: params, grads, training, forward, backward
    dense.py          Dense, the activations (ReLU, LeakyReLU, Sigmoid, Tanh, GELU), Dropout
    normalization.py  BatchNorm, LayerNorm
    image.py          Conv2D, MaxPool2D, Flatten on (N, C, H, W)
    embedding.py      Embedding: token ids (N, T) -> vectors (N, T, D)
    recurrent.py      RNN, LSTM, GRU on sequences (N, T, D), with backprop through time
    recurrent_variants.py  their forward on many moved weights at once, for the checker only
    attention.py      MultiHeadAttention, PositionalEncoding on (N, T, D)
    blocks.py         Sequential, Residual: layers that hold layers

Shapes use N for the batch size; image layers take (N, C, H, W) and sequence layers (N, T, D),
as in PyTorch (batch_first). A layer whose class says `stackable = True` also accepts extra
leading axes, (K, N, F), (K, N, C, H, W) or (K, N, T, D),
which lets the gradient checker push K perturbed copies of a batch through in one pass.
"""

from .attention import MultiHeadAttention, PositionalEncoding
from .base import INITS, Layer
from .blocks import Residual, Sequential
from .dense import GELU, Activation, Dense, Dropout, LeakyReLU, ReLU, Sigmoid, Tanh
from .embedding import Embedding
from .image import Conv2D, Flatten, MaxPool2D, col2im, windows
from .normalization import BatchNorm, LayerNorm
from .recurrent import GRU, LSTM, RNN, Recurrent

__all__ = [
    "GELU", "GRU", "INITS", "LSTM", "RNN", "Activation", "BatchNorm", "Conv2D", "Dense",
    "Dropout", "Embedding", "Flatten", "Layer", "LayerNorm", "LeakyReLU", "MaxPool2D",
    "MultiHeadAttention", "PositionalEncoding", "ReLU", "Recurrent", "Residual", "Sequential",
    "Sigmoid", "Tanh", "col2im", "windows",
]

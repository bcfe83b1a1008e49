"""The torch modules the bridge builds where torch.nn has no exact counterpart: the returned
Sequential (its mode and dtype in its repr), RNN, LSTM, GRU that return their outputs alone, as
minnet's do, self-attention of one input, the positional encoding, a residual block, and
Dropout with a fixed mask.

Imported by the bridge only once PyTorch is there: minnet itself never imports torch.
"""

from __future__ import annotations

import torch


class Sequential(torch.nn.Sequential):
    """torch.nn.Sequential whose repr says which mode it is in, and its dtype.

    The two things that make a net's outputs differ from the model's: in train mode Dropout
    drops and BatchNorm uses the batch's statistics, and a float64 net refuses float32 input.
    """

    def extra_repr(self) -> str:
        mode = f"mode={'train' if self.training else 'eval'}"
        dtypes = {str(p.dtype).removeprefix("torch.") for p in self.parameters()}
        return mode + (f", dtype={dtypes.pop()}" if len(dtypes) == 1 else "")


class _Outputs:
    """torch's recurrent modules return (outputs, state), a tuple nn.Sequential cannot pass
    on; these return the outputs alone, as minnet's layers do: every step (N, T, H), or the
    last one (N, H) when return_sequences is False. Always batch_first."""

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool = True,
                 **kwargs) -> None:
        super().__init__(input_size, hidden_size, batch_first=True, **kwargs)
        self.return_sequences = return_sequences

    def forward(self, x):
        out, _ = super().forward(x)
        return out if self.return_sequences else out[:, -1]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, return_sequences={self.return_sequences}"


class RNN(_Outputs, torch.nn.RNN):
    """torch.nn.RNN returning its outputs alone, as minnet.RNN."""


class LSTM(_Outputs, torch.nn.LSTM):
    """torch.nn.LSTM returning its outputs alone, as minnet.LSTM (gates in torch's order)."""


class GRU(_Outputs, torch.nn.GRU):
    """torch.nn.GRU returning its outputs alone, as minnet.GRU."""


class SelfAttention(torch.nn.Module):
    """nn.MultiheadAttention(batch_first=True) as a layer of one input: y = MHA(x, x, x).

    The mask is True above the diagonal when causal (a position attends to none after it).
    nn.MultiheadAttention returns (y, weights); this module returns y, as a layer does.
    """

    def __init__(self, embed_dim: int, num_heads: int, causal: bool = False,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.attention = torch.nn.MultiheadAttention(embed_dim, num_heads, batch_first=True,
                                                     dtype=dtype)
        self.causal = causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[-2]
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1) if self.causal \
            else None
        return self.attention(x, x, x, attn_mask=mask, need_weights=False)[0]

    def extra_repr(self) -> str:
        return f"causal={self.causal}"


class PositionalEncoding(torch.nn.Module):
    """y = x + table[:T], the table (max_len, dim) a buffer: saved with the net, never trained."""

    def __init__(self, table) -> None:
        super().__init__()
        self.register_buffer("table", torch.as_tensor(table))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table[:x.shape[-2]]


class Residual(torch.nn.Sequential):
    """y = x + f(x), f the modules in order."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


class Masked(torch.nn.Module):
    """Dropout as a fixed function: x times a given mask (minnet's frozen one), or x itself."""

    def __init__(self, mask: torch.Tensor | None) -> None:
        super().__init__()
        self.mask = mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.mask is None else x * self.mask

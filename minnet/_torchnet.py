"""The torch.nn.Sequential that bridge.to_torch returns, with its mode and dtype in its repr, and
RNN, LSTM, GRU that return their outputs alone, as minnet's do.

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

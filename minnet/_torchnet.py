"""The torch.nn.Sequential that bridge.to_torch returns, with its mode and dtype in its repr.

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

"""The candidate operations as torch modules. Imports torch: only import this lazily.

Every op maps ``(N, c_in, H, W)`` to ``(N, c_out, ceil(H / stride), ceil(W / stride))``, so any op
can sit on any edge. Convolutions are ReLU-conv-BN (separable and dilated ones as a depthwise
conv followed by a pointwise one, a single stack to stay cheap on a CPU). Pools and identity add
a 1x1 projection when the channel count or stride changes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FactorizedReduce", "ReLUConvBN", "Zero", "make_op"]


class ReLUConvBN(nn.Sequential):
    """ReLU, a (possibly depthwise-separable or dilated) convolution, batch norm."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int = 1,
        dilation: int = 1,
        separable: bool = False,
    ) -> None:
        pad = dilation * (kernel - 1) // 2
        layers: list[nn.Module] = [nn.ReLU(inplace=False)]
        if separable:
            layers += [
                nn.Conv2d(
                    c_in, c_in, kernel, stride, pad, dilation=dilation, groups=c_in, bias=False
                ),
                nn.Conv2d(c_in, c_out, 1, bias=False),
            ]
        else:
            layers.append(
                nn.Conv2d(c_in, c_out, kernel, stride, pad, dilation=dilation, bias=False)
            )
        layers.append(nn.BatchNorm2d(c_out))
        super().__init__(*layers)


class FactorizedReduce(nn.Module):
    """Halves the resolution without losing every other pixel: two strided 1x1 convs, one on a
    shifted copy, concatenated."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        half = c_out // 2
        self.relu = nn.ReLU(inplace=False)
        self.conv_a = nn.Conv2d(c_in, half, 1, stride=2, bias=False)
        self.conv_b = nn.Conv2d(c_in, c_out - half, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        out: torch.Tensor = self.bn(torch.cat([self.conv_a(x), self.conv_b(shifted)], dim=1))
        return out


class Zero(nn.Module):
    """The "no connection" op: zeros of the output shape."""

    def __init__(self, c_out: int, stride: int) -> None:
        super().__init__()
        self.c_out = c_out
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        s = self.stride
        return x.new_zeros((n, self.c_out, -(-h // s), -(-w // s)))


class _Pool(nn.Module):
    def __init__(self, kind: str, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        if kind == "max":
            self.pool: nn.Module = nn.MaxPool2d(3, stride=stride, padding=1)
        else:
            self.pool = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        self.proj = ReLUConvBN(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.pool(x)
        return self.proj(y) if self.proj is not None else y


def _identity(c_in: int, c_out: int, stride: int) -> nn.Module:
    if stride == 2:
        return FactorizedReduce(c_in, c_out)
    if c_in != c_out:
        return ReLUConvBN(c_in, c_out, 1)
    return nn.Identity()


def make_op(name: str, c_in: int, c_out: int, stride: int = 1) -> nn.Module:
    """Builds the op called ``name`` (one of ``KNOWN_OPS``) for an edge.

    Raises:
        ValueError: ``name`` is not a known op.
    """
    if name in ("sep_conv_3x3", "sep_conv_5x5"):
        return ReLUConvBN(c_in, c_out, int(name[-1]), stride, separable=True)
    if name in ("dil_conv_3x3", "dil_conv_5x5"):
        return ReLUConvBN(c_in, c_out, int(name[-1]), stride, dilation=2, separable=True)
    if name in ("conv_1x1", "conv_3x3", "conv_5x5"):
        return ReLUConvBN(c_in, c_out, int(name[-1]), stride)
    if name in ("max_pool_3x3", "avg_pool_3x3"):
        return _Pool(name[:3], c_in, c_out, stride)
    if name == "identity":
        return _identity(c_in, c_out, stride)
    if name == "zero":
        return Zero(c_out, stride)
    raise ValueError(f"unknown op {name!r}")

"""Cost of plugin discovery and of building NAS spaces and models.

    python benchmarks/plugins/discovery.py [--repeat 50]

Prints medians: a metadata scan of every group (what `hyperloom plugins --no-import` and every
`load` do), loading the nas_cell space by name (scan, import, call, validate), and building the
nas-digits baseline network with its parameter count and FLOPs estimate.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from importlib import metadata


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    from hyperloom import registry

    n_dists = sum(1 for _ in metadata.distributions())
    print(f"installed distributions: {n_dists}; plugins found: {len(registry.discover_all())}")
    print(
        f"discover_all (metadata scan):        {_median_ms(registry.discover_all, args.repeat):8.2f} ms"
    )
    print(
        "load_search_space('nas_cell', {}):    "
        f"{_median_ms(lambda: registry.load_search_space('nas_cell', {}), args.repeat):8.2f} ms"
    )
    import torch

    torch.set_num_threads(1)
    from hyperloom.plugins.nas import build_model
    from hyperloom.space import SearchSpace

    space = SearchSpace.from_nni(
        registry.load_search_space("nas_cell", {"num_nodes": 3, "reduction": False}).to_nni()
    )
    arch = space.sample(0)
    repeat = max(3, args.repeat // 5)
    print(
        "build_model (3 cells, 3 nodes, C=8): "
        f"{_median_ms(lambda: build_model(arch, (1, 8, 8), 10, channels=8, layers=3), repeat):8.2f} ms"
    )
    model = build_model(arch, (1, 8, 8), 10, channels=8, layers=3)
    print(f"  params {model.num_parameters()}, MACs/image {model.flops()}")
    print(f"flops() estimate (one forward pass):  {_median_ms(model.flops, repeat):8.2f} ms")


if __name__ == "__main__":
    main()

"""The complete minimal example in docs/writing-a-plugin.md really passes the tuner suite."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

from hyperloom.plugins.testing import check_tuner

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing-a-plugin.md"


def test_minimal_tuner_in_the_guide_passes_the_suite() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    section = text[text.index("## A complete minimal example") :]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    source = next(b for b in blocks if "class ShuffleTuner" in b)
    module = types.ModuleType("hyperloom_shuffle_from_docs")
    sys.modules[module.__name__] = module
    try:
        exec(compile(source, str(GUIDE), "exec"), module.__dict__)
        results = check_tuner(module.ShuffleTuner)
    finally:
        del sys.modules[module.__name__]
    failed = [(r.name, r.detail) for r in results if not r.ok]
    assert not failed
    assert len(results) >= 8
    assert 'shuffle = "hyperloom_shuffle:ShuffleTuner"' in section

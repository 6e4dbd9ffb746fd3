"""Parts of the Ray executor that need no cluster: options, the code size check, errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hyperloom.errors import ConfigError, HyperloomError, MissingDependencyError
from hyperloom.plugins.ray import RayExecutor
from hyperloom.plugins.ray._code import check_code_size
from hyperloom.plugins.ray._connect import probe
from hyperloom.plugins.ray._options import exit_reason, import_ray, parse_resources
from hyperloom.plugins.ray._runner import _argv

pytestmark = pytest.mark.ray


def make(tmp_path: Path, **options: Any) -> RayExecutor:
    return RayExecutor(experiment_dir=tmp_path, emit=lambda ev: None, options=options)


def test_importing_the_plugin_does_notimport_ray() -> None:
    import subprocess

    code = "import sys, hyperloom.plugins.ray; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_missing_ray_is_a_missing_dependency_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingDependencyError, match=r"\.\[ray\]"):
        import_ray()


def test_resources_per_trial() -> None:
    assert parse_resources(None) == {"num_cpus": 1.0, "num_gpus": 0.0}
    got = parse_resources({"cpu": 2, "gpu": 0.5, "memory": "2GiB", "accelerator_type:A100": 1})
    assert got == {
        "num_cpus": 2.0,
        "num_gpus": 0.5,
        "memory": 2 * 2**30,
        "resources": {"accelerator_type:A100": 1.0},
    }
    with pytest.raises(ConfigError, match=r"resourcesPerTrial\.gpu must be a number >= 0"):
        parse_resources({"gpu": "one"})
    with pytest.raises(ConfigError, match=r"resourcesPerTrial\.memory"):
        parse_resources({"memory": "lots"})
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_resources([1, 2])


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="excludes must be a list"):
        make(tmp_path, excludes="*.bin")
    with pytest.raises(ConfigError, match="runtimeEnv must be a mapping"):
        make(tmp_path, runtimeEnv=["pip"])
    with pytest.raises(ConfigError, match="is not 'auto', 'host:port'"):
        probe("not an address", 1.0)


def test_unreachable_address_fails_fast(tmp_path: Path) -> None:
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(
        HyperloomError, match=rf"cannot reach the Ray cluster at ray://127\.0\.0\.1:{port}"
    ):
        probe(f"ray://127.0.0.1:{port}", 2.0)
    assert time.monotonic() - t0 < 5


def test_code_size_check_respects_excludes_and_rayignore(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "big.bin").write_bytes(b"\0" * (2 * 2**20))
    (tmp_path / "ckpt.pt").write_bytes(b"\0" * (2 * 2**20))
    with pytest.raises(ConfigError, match=r"holds 4\.0 MiB .* over the limit of 1 MiB") as err:
        check_code_size(tmp_path, [], 1.0)
    assert "data/big.bin" in str(err.value) and "maxCodeDirectoryMiB" in str(err.value)
    with pytest.raises(ConfigError, match=r"holds 2\.0 MiB"):
        check_code_size(tmp_path, ["data/"], 1.0)
    (tmp_path / ".rayignore").write_text("*.pt\n")
    assert check_code_size(tmp_path, ["data/"], 1.0) < 100
    with pytest.raises(ConfigError, match="does not exist"):
        check_code_size(tmp_path / "nope", [], 1.0)


def test_exit_reasons() -> None:
    assert exit_reason(0, False, b"") is None
    assert (
        exit_reason(3, False, b"warming up\nValueError: bad lr\n")
        == "exit code 3: ValueError: bad lr"
    )
    assert exit_reason(-15, True, b"") == "killed by SIGTERM (killed by hyperloom)"
    assert exit_reason(None, True, b"") == "killed by hyperloom"


def test_plain_commands_run_without_a_shell(tmp_path: Path) -> None:
    assert (
        _argv(
            "python train.py --lr 0.1", str(tmp_path), f"{Path(sys.executable).parent}", "/bin/sh"
        )[0]
        == "python"
    )
    assert _argv("python a.py | tee x", str(tmp_path), None, "/bin/sh") == [
        "/bin/sh",
        "-c",
        "python a.py | tee x",
    ]
    assert _argv("nosuch-xyz", str(tmp_path), "/usr/bin", "/bin/sh")[:2] == ["/bin/sh", "-c"]


def _dead_manager_experiment(tmp_path: Path, address: str) -> Path:
    """A Ray experiment whose manager died with one trial marked RUNNING (no manager, no lock)."""
    from hyperloom.config import Config
    from hyperloom.store import Store

    config = Config.from_dict(
        {
            "trialCommand": "python train.py",
            "trialCodeDirectory": str(tmp_path),
            "searchSpace": {"x": {"_type": "choice", "_value": [1]}},
            "trainingService": {"platform": "ray", "address": address, "connectTimeout": 2},
        },
        base_dir=tmp_path,
    )
    exp_dir = tmp_path / "exp"
    exp_dir.mkdir()
    store = Store.create(
        exp_dir, experiment_id="deadmgr", name="d", config=config.to_dict(), space={}
    )
    try:
        store.set_experiment_status("RUNNING")
        store.add_trial("t1", store.allocate_sequence(), {"x": 1})
        handle = {"executor": "ray", "namespace": "hyperloom-deadmgr", "name": "t1", "pid": None}
        store.start_trial("t1", started=1.0, handle=handle)
    finally:
        store.close()
    return exp_dir


def test_stop_with_a_dead_manager_and_an_unreachable_cluster(tmp_path: Path) -> None:
    import socket
    import subprocess

    from hyperloom.store import StoreReader

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there
    exp_dir = _dead_manager_experiment(tmp_path, f"127.0.0.1:{port}")
    cmd = [sys.executable, "-m", "hyperloom.cli", "stop", str(exp_dir)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, (out.stdout, out.stderr)
    err = " ".join(out.stderr.split())
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in err, err
    assert "the manager of experiment deadmgr is gone" in err, err
    assert "Nothing was changed" in err and "--force" in err, err
    assert "Traceback" not in out.stderr
    reader = StoreReader(exp_dir)
    try:
        assert reader.experiment()["status"] == "RUNNING"
        assert [t.status.value for t in reader.trials()] == ["RUNNING"]
    finally:
        reader.close()
    # --force: recorded as stopped anyway, with the warning
    out = subprocess.run([*cmd, "--force"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert "warning:" in out.stderr and "cannot reach the Ray cluster" in out.stderr
    reader = StoreReader(exp_dir)
    try:
        assert reader.experiment()["status"] == "STOPPED"
        assert [t.status.value for t in reader.trials()] == ["CANCELED"]
    finally:
        reader.close()

"""Atomic writes: the old file survives a failed write, and new files get the usual permissions."""

import json
import os
import stat

import pytest
import torch

import nasedu as nd
from nasedu import checkpoint


def usual_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def test_written_files_get_the_usual_permissions_not_those_of_a_temporary_file(tmp_path):
    checkpoint.save({"a": torch.ones(2)}, tmp_path / "state.pt")
    nd.export.save_arch(tmp_path / "arch.json", nd.spaces.get("teaching"), "0123")
    nd.hardware.lookup_table(nd.spaces.get("teaching"), "macs").save(str(tmp_path / "macs.json"))
    for name in ("state.pt", "arch.json", "macs.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == usual_mode(), name


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "arch.json"
    checkpoint.atomic_write(path, lambda f: json.dump({"old": 1}, f), mode="w")

    def broken(f):
        f.write("{half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        checkpoint.atomic_write(path, broken, mode="w")
    assert json.loads(path.read_text()) == {"old": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["arch.json"]

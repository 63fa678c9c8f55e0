import gzip
import io
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nasedu import data


def denormalise(x: torch.Tensor, splits: data.Splits) -> torch.Tensor:
    """Pixels back in [0, 1]."""
    mean = torch.tensor(splits.mean)[:, None, None]
    std = torch.tensor(splits.std)[:, None, None]
    return x * std + mean


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)


def write_fake_fashion_mnist(folder: Path, n_train: int = 40, n_test: int = 12, gz: bool = True) -> dict:
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 10,
    }
    folder.mkdir(parents=True, exist_ok=True)
    for stem, array in arrays.items():
        write_idx(folder / (stem + (".gz" if gz else "")), array)
    return arrays


def write_fake_cifar10(folder: Path, n_per_batch: int = 6) -> dict:
    """torchvision's CIFAR-10 layout: pickled dicts with 'data' (N, 3072) uint8 and 'labels'."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                 "labels": rng.integers(0, 10, n_per_batch).tolist()}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
        batches[name] = batch
    return batches


@pytest.fixture(autouse=True)
def no_user_data(monkeypatch, tmp_path):
    """No test sees the machine's own data folders: $NASEDU_DATA unset, an empty user cache."""
    monkeypatch.delenv(data.DATA_VARIABLE, raising=False)
    monkeypatch.setattr(data, "cache_dir", lambda: tmp_path / "user-cache")


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian-package")


def refuse_downloads(monkeypatch) -> None:
    def no_download(*args, **kwargs):
        raise AssertionError("downloaded although the files were there or download=False")

    monkeypatch.setattr("torchvision.datasets.FashionMNIST", no_download)
    monkeypatch.setattr("torchvision.datasets.CIFAR10", no_download)


# --- digits: embedded, no files ---

@pytest.mark.parametrize("name, shape", [("digits", (1, 28, 28)), ("digits-8x8", (1, 8, 8))])
def test_digits_shapes_dtypes_and_normalisation(name, shape):
    splits = data.load(name)
    assert splits.name == name and splits.input_shape == shape and splits.num_classes == 10
    assert [len(y) for _, y in (splits.train, splits.val, splits.test)] == [1350, 150, 297]
    for x, y in (splits.train, splits.val, splits.test):
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert x.shape == (len(y), *shape)
        assert set(y.tolist()) == set(range(10))
        pixels = denormalise(x, splits)
        assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    x_train = splits.train[0]
    assert x_train.mean().abs() < 1e-4 and (x_train.std() - 1).abs() < 1e-3
    assert splits.val[0].mean().abs() < 0.2 and splits.test[0].mean().abs() < 0.2


def test_digits_28_is_the_8x8_images_resized():
    small, big = data.load("digits-8x8", seed=3), data.load("digits", seed=3)
    assert torch.equal(small.train[1], big.train[1])
    resized = F.interpolate(denormalise(small.train[0], small), size=(28, 28), mode="bilinear", align_corners=False)
    torch.testing.assert_close(resized, denormalise(big.train[0], big), atol=1e-5, rtol=0)


def test_same_seed_same_split_and_different_seed_different_split():
    a, b, c = data.load("digits", seed=0), data.load("digits", seed=0), data.load("digits", seed=1)
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(a, split)[0], getattr(b, split)[0])
    assert not torch.equal(a.val[1], c.val[1])
    # the official (for digits: fixed) test set does not move with the seed unless subsampled
    assert torch.equal(a.test[1], c.test[1])
    assert not torch.equal(data.load("digits", test_size=50, seed=0).test[1],
                           data.load("digits", test_size=50, seed=1).test[1])


def test_sizes_are_counts_or_fractions():
    splits = data.load("digits", train_size=100, val_size=0.2, test_size=0.5)
    assert [len(y) for _, y in (splits.train, splits.val, splits.test)] == [100, 300, 148]


def test_split_indices_disjoint_seeded_and_val_independent_of_train_size():
    train, val = data.split_indices(1000, val_size=100, train_size=300, seed=0)
    assert len(train) == 300 and len(val) == 100
    assert not set(train.tolist()) & set(val.tolist())
    same_train, same_val = data.split_indices(1000, val_size=100, train_size=300, seed=0)
    assert torch.equal(train, same_train) and torch.equal(val, same_val)
    other_train, other_val = data.split_indices(1000, val_size=100, train_size=300, seed=1)
    assert not torch.equal(train, other_train) and not torch.equal(val, other_val)
    all_train, val_again = data.split_indices(1000, val_size=100, seed=0)
    assert torch.equal(val, val_again) and len(all_train) == 900
    assert torch.equal(all_train[:300], train)


@pytest.mark.parametrize("kwargs, message", [
    (dict(train_size=1400, val_size=200), "at most 1500"),
    (dict(val_size=1.5), "a fraction must lie in"),
    (dict(test_size=1000), "only 297 images"),
    (dict(train_size=0), "at least 1"),
])
def test_bad_sizes_say_what_to_ask_for(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load("digits", **kwargs)


def test_unknown_dataset_lists_the_names():
    with pytest.raises(ValueError, match="choose one of.*fashion-mnist.*digits"):
        data.load("mnist")


# --- Fashion-MNIST ---

@pytest.mark.parametrize("layout, gz", [("", True), ("", False), ("FashionMNIST/raw", True)])
def test_fashion_mnist_from_root(tmp_path, no_debian, layout, gz):
    arrays = write_fake_fashion_mnist(tmp_path / layout, gz=gz)
    splits = data.load("fashion-mnist", root=tmp_path, val_size=10, seed=5)
    assert splits.source == str(tmp_path / layout)
    assert splits.input_shape == (1, 28, 28) and splits.classes[9] == "Ankle boot"
    train_idx, val_idx = data.split_indices(40, val_size=10, seed=5)
    images = torch.from_numpy(arrays["train-images-idx3-ubyte"]).float()[:, None] / 255
    torch.testing.assert_close(denormalise(splits.train[0], splits), images[train_idx], atol=1e-5, rtol=0)
    torch.testing.assert_close(denormalise(splits.val[0], splits), images[val_idx], atol=1e-5, rtol=0)
    assert splits.test[1].tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()


def test_fashion_mnist_from_the_folder_named_by_nasedu_data(tmp_path, no_debian, monkeypatch):
    write_fake_fashion_mnist(tmp_path / "mine" / "FashionMNIST" / "raw", n_train=30)
    monkeypatch.setenv("NASEDU_DATA", str(tmp_path / "mine"))
    refuse_downloads(monkeypatch)
    splits = data.load("fashion-mnist", val_size=10)
    assert splits.source == str(tmp_path / "mine" / "FashionMNIST" / "raw") and len(splits.train[1]) == 20


def test_a_download_goes_to_the_user_cache_once_and_is_found_there_later(tmp_path, no_debian, monkeypatch):
    calls = []

    class FakeFashionMNIST:  # what torchvision leaves behind: root/FashionMNIST/raw/*
        def __init__(self, root, train, download):
            calls.append((root, download))
            write_fake_fashion_mnist(Path(root) / "FashionMNIST" / "raw")

    monkeypatch.setattr("torchvision.datasets.FashionMNIST", FakeFashionMNIST)
    splits = data.load("fashion-mnist", download=True, val_size=10)
    cached = tmp_path / "user-cache" / "FashionMNIST" / "raw"
    assert calls == [(str(tmp_path / "user-cache"), True)] and splits.source == str(cached)
    refuse_downloads(monkeypatch)
    assert data.load("fashion-mnist", val_size=10).source == str(cached)  # no download=True needed any more
    assert data.load("fashion-mnist", download=True, val_size=10).source == str(cached)  # nor a second download
    assert data.locate("fashion-mnist") == cached


def test_the_search_order_root_then_nasedu_data_then_cache_then_debian(tmp_path, monkeypatch):
    folders = {what: tmp_path / what for what in ("root", "env", "user-cache", "debian")}
    for n_train, folder in zip((40, 30, 20, 16), folders.values()):
        write_fake_fashion_mnist(folder, n_train=n_train)  # the size tells which folder was read
    monkeypatch.setenv("NASEDU_DATA", str(folders["env"]))
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", folders["debian"])
    refuse_downloads(monkeypatch)
    assert [what for what, _ in data.folders("fashion-mnist", root=folders["root"])] == [
        "root", "$NASEDU_DATA", "user cache", "Debian package dataset-fashion-mnist"]

    def read(**kwargs) -> tuple[str, int]:
        splits = data.load("fashion-mnist", val_size=6, **kwargs)
        return splits.source, len(splits.train[1]) + 6

    assert read(root=folders["root"]) == (str(folders["root"]), 40)
    assert read() == (str(folders["env"]), 30)
    monkeypatch.delenv("NASEDU_DATA")
    assert read() == (str(folders["user-cache"]), 20)
    monkeypatch.setattr(data, "cache_dir", lambda: tmp_path / "empty-cache")
    assert read() == (str(folders["debian"]), 16)
    assert read(root=tmp_path / "empty-root") == (str(folders["debian"]), 16)  # a root without files is skipped


def test_fashion_mnist_missing_names_every_folder_and_every_way_to_get_it(tmp_path, no_debian, monkeypatch):
    refuse_downloads(monkeypatch)
    monkeypatch.setenv("NASEDU_DATA", str(tmp_path / "env"))
    with pytest.raises(data.DataNotFoundError) as info:
        data.load("fashion-mnist", root=tmp_path / "nowhere", download=False)
    assert isinstance(info.value, FileNotFoundError)  # what older code catches
    message = str(info.value)
    assert message.startswith("Fashion-MNIST not found")
    for folder in ("nowhere", "env", "user-cache", "no-debian-package"):
        assert str(tmp_path / folder) in message, folder
    for way in ("`nasedu data fetch --root", "NASEDU_DATA=", "download=True",
                "sudo apt-get install dataset-fashion-mnist", "load('digits')"):
        assert way in message, way
    monkeypatch.delenv("NASEDU_DATA")
    with pytest.raises(data.DataNotFoundError) as info:
        data.load("fashion-mnist")
    assert "`nasedu data fetch`; it saves them in " + str(tmp_path / "user-cache") in str(info.value)


def test_a_notebook_shows_a_missing_dataset_as_its_message_not_a_traceback():
    """Jupyter shows what _render_traceback_ returns; the cell still fails, so "run all" stops there."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from nasedu import data\nraise data.DataNotFoundError('Fashion-MNIST not found. Run `nasedu data fetch`.')")])
    with pytest.raises(CellExecutionError):
        NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    (error,) = nb.cells[0].outputs
    assert error.output_type == "error" and error.ename == "DataNotFoundError"
    assert error.traceback == ["DataNotFoundError: Fashion-MNIST not found. Run `nasedu data fetch`."]


def test_fashion_mnist_download_goes_into_root_when_given(tmp_path, no_debian, monkeypatch):
    calls = []

    class FakeFashionMNIST:
        def __init__(self, root, train, download):
            calls.append((root, download))
            write_fake_fashion_mnist(Path(root) / "FashionMNIST" / "raw")

    monkeypatch.setattr("torchvision.datasets.FashionMNIST", FakeFashionMNIST)
    splits = data.load("fashion-mnist", root=tmp_path, download=True, val_size=10)
    assert calls == [(str(tmp_path), True)]
    assert len(splits.train[1]) == 30 and len(splits.test[1]) == 12
    assert not (tmp_path / "user-cache").exists()


def test_fashion_mnist_failed_download_says_why(tmp_path, no_debian, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("no route to host")

    monkeypatch.setattr("torchvision.datasets.FashionMNIST", offline)
    with pytest.raises(data.DataNotFoundError, match="failed \\(no route to host\\); check the internet") as info:
        data.load("fashion-mnist", download=True)
    assert "load('digits')" in str(info.value) and str(tmp_path / "user-cache") in str(info.value)


def test_read_idx_rejects_other_and_truncated_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x89PNG....")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 2]) + struct.pack(">2i", 3, 3) + bytes(5))
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(tmp_path / "short")


@pytest.fixture(scope="module")
def debian_fashion_mnist(tmp_path_factory) -> data.Splits:
    if not data.DEBIAN_FASHION_MNIST.is_dir():
        pytest.skip(f"Fashion-MNIST of the Debian package is not at {data.DEBIAN_FASHION_MNIST} "
                    f"(sudo apt-get install dataset-fashion-mnist)")
    with pytest.MonkeyPatch.context() as patch:  # the user's own copies come first: hide them
        patch.delenv(data.DATA_VARIABLE, raising=False)
        patch.setattr(data, "cache_dir", lambda: tmp_path_factory.mktemp("empty-cache"))
        return data.load("fashion-mnist", train_size=2000)


def test_debian_fashion_mnist(debian_fashion_mnist):
    splits = debian_fashion_mnist
    assert splits.source == str(data.DEBIAN_FASHION_MNIST)
    assert [len(y) for _, y in (splits.train, splits.val, splits.test)] == [2000, 6000, 10000]
    assert splits.train[0].shape == (2000, 1, 28, 28) and splits.train[0].dtype == torch.float32
    assert splits.test[1].dtype == torch.int64 and set(splits.test[1].tolist()) == set(range(10))
    assert splits.test[1][0] == 9  # the first test image is the famous ankle boot
    assert splits.mean[0] == pytest.approx(0.286, abs=0.01)  # the published pixel mean of Fashion-MNIST
    assert splits.train[0].mean().abs() < 1e-4 and (splits.train[0].std() - 1).abs() < 1e-3


# --- CIFAR-10 (generated files in torchvision's layout) ---

@pytest.mark.parametrize("root_is_batch_folder", [False, True])
def test_cifar10_from_torchvision_layout(tmp_path, root_is_batch_folder):
    batches = write_fake_cifar10(tmp_path / "cifar-10-batches-py")
    root = tmp_path / "cifar-10-batches-py" if root_is_batch_folder else tmp_path
    splits = data.load("cifar10", root=root, val_size=5, seed=2)
    assert splits.input_shape == (3, 32, 32) and splits.classes[0] == "airplane"
    assert [len(y) for _, y in (splits.train, splits.val, splits.test)] == [25, 5, 6]
    assert splits.train[0].dtype == torch.float32 and splits.train[1].dtype == torch.int64
    assert torch.allclose(splits.train[0].mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    # rows are 1024 red, 1024 green, 1024 blue bytes, each a 32x32 image row by row
    pool = np.concatenate([batches[f"data_batch_{i}"]["data"] for i in range(1, 6)])
    images = torch.from_numpy(pool).float().reshape(-1, 3, 32, 32) / 255
    train_idx, _ = data.split_indices(30, val_size=5, seed=2)
    torch.testing.assert_close(denormalise(splits.train[0], splits), images[train_idx], atol=1e-5, rtol=0)
    assert splits.test[1].tolist() == batches["test_batch"]["labels"]


@pytest.mark.parametrize("where", ["NASEDU_DATA", "user cache"])
def test_cifar10_from_nasedu_data_or_the_user_cache(tmp_path, monkeypatch, where):
    folder = tmp_path / ("env" if where == "NASEDU_DATA" else "user-cache")
    write_fake_cifar10(folder / "cifar-10-batches-py")
    if where == "NASEDU_DATA":
        monkeypatch.setenv("NASEDU_DATA", str(folder))
    refuse_downloads(monkeypatch)
    assert data.load("cifar10", val_size=5).source == str(folder / "cifar-10-batches-py")


def test_cifar10_missing_says_how_to_get_it(tmp_path, monkeypatch):
    refuse_downloads(monkeypatch)
    with pytest.raises(data.DataNotFoundError) as info:
        data.load("cifar10", root=tmp_path)
    message = str(info.value)
    assert message.startswith("CIFAR-10 not found") and str(tmp_path / "user-cache") in message
    assert "nasedu data fetch cifar10" in message and "download=True" in message and "NASEDU_DATA" in message
    assert "apt-get" not in message and "Debian" not in message  # no Debian package of CIFAR-10


def test_fetch_downloads_only_what_is_missing(tmp_path, monkeypatch):
    calls = []

    class FakeCIFAR10:  # what torchvision leaves behind: root/cifar-10-batches-py/*
        def __init__(self, root, train, download):
            calls.append(root)
            write_fake_cifar10(Path(root) / "cifar-10-batches-py")

    monkeypatch.setattr("torchvision.datasets.CIFAR10", FakeCIFAR10)
    assert data.fetch("cifar10") == tmp_path / "user-cache" / "cifar-10-batches-py"
    assert data.fetch("cifar10") == tmp_path / "user-cache" / "cifar-10-batches-py"
    assert calls == [str(tmp_path / "user-cache")]
    with pytest.raises(ValueError, match="not read from files"):
        data.fetch("digits")


# --- Batches ---

def make_xy(n=10, c=3):
    return torch.randn(n, c, 4, 4), torch.arange(n)


def epoch_labels(batches) -> list[list[int]]:
    return [y.tolist() for _, y in batches]


def test_batches_cover_every_sample_once_per_epoch():
    x, y = make_xy(10)
    batches = data.Batches(x, y, batch_size=4, seed=0)
    assert len(batches) == 3
    order = epoch_labels(batches)
    assert [len(b) for b in order] == [4, 4, 2]
    assert sorted(sum(order, [])) == list(range(10))
    for xb, yb in batches:
        assert torch.equal(xb, x[yb])  # images stay with their labels
    dropped = data.Batches(x, y, batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [len(b) for b in epoch_labels(dropped)] == [4, 4]


def test_batches_same_seed_same_order_new_order_each_epoch():
    x, y = make_xy(50)
    a, b = data.Batches(x, y, 8, seed=0), data.Batches(x, y, 8, seed=0)
    epochs_a = [epoch_labels(a) for _ in range(3)]
    assert epochs_a == [epoch_labels(b) for _ in range(3)]
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]
    assert a.epoch == 3
    assert epoch_labels(data.Batches(x, y, 8, seed=1)) != epochs_a[0]
    assert sum(epoch_labels(data.Batches(x, y, 8, shuffle=False)), []) == list(range(50))


def test_batches_resume_mid_epoch_and_between_epochs():
    x, y = make_xy(50)
    original = data.Batches(x, y, 8, seed=0)
    epoch_labels(original)
    running = iter(original)
    next(running), next(running)
    buffer = io.BytesIO()
    torch.save(original.state_dict(), buffer)  # a checkpoint, taken inside the loop
    rest = [yb.tolist() for _, yb in running]
    following = epoch_labels(original)

    resumed = data.Batches(x, y, 8, seed=123)
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert resumed.epoch == 1
    assert epoch_labels(resumed) == rest and len(rest) == len(resumed) - 2
    assert epoch_labels(resumed) == following

    between = data.Batches(x, y, 8, seed=7)
    between.load_state_dict(original.state_dict())
    assert epoch_labels(between) == epoch_labels(original)


def test_breaking_out_ends_the_epoch():
    x, y = make_xy(50)
    batches = data.Batches(x, y, 8, seed=0)
    for _ in batches:
        break
    assert batches.epoch == 1 and batches.state_dict()["next_batch"] == 0
    assert len(epoch_labels(batches)) == len(batches)


def test_load_state_dict_from_other_data_is_refused():
    small = data.Batches(*make_xy(10), batch_size=2)
    iterator = iter(small)
    for _ in range(4):
        next(iterator)
    with pytest.raises(ValueError, match="same data and batch_size"):
        data.Batches(*make_xy(10), batch_size=5).load_state_dict(small.state_dict())


def test_channels_last_is_respected():
    x, y = make_xy(10, c=3)
    xb, _ = next(iter(data.Batches(x, y, 4, channels_last=True)))
    assert xb.is_contiguous(memory_format=torch.channels_last) and not xb.is_contiguous()
    xb, _ = next(iter(data.Batches(x, y, 4)))
    assert xb.is_contiguous()
    with pytest.raises(ValueError, match="channels_last needs images"):
        data.Batches(torch.randn(10, 5), y, 4, channels_last=True)


def test_batches_reject_mismatched_inputs():
    with pytest.raises(ValueError, match="x has 10 samples but y has 9"):
        data.Batches(torch.randn(10, 1, 2, 2), torch.arange(9), 4)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        data.Batches(*make_xy(10), batch_size=0)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device here"))])
def test_batches_live_on_the_device_with_the_same_order(device):
    x, y = make_xy(20)
    batches = data.Batches(x, y, 8, seed=0, device=device)
    assert batches.x.device.type == device
    assert all(xb.device.type == device and yb.device.type == device for xb, yb in batches)
    on_device = data.Batches(x, y, 8, seed=0, device=device)
    assert epoch_labels(on_device) == epoch_labels(data.Batches(x, y, 8, seed=0))

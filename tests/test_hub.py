"""The model hub against a loopback server: listing, downloads, checksums, resuming, offline use."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import onyx
from onyx import hub
from onyx.cli import main
from onyx.errors import ChecksumMismatch, HubError

from hub_server import HubServer, make_zoo, tiny_model, write_zoo


@pytest.fixture
def zoo(tmp_path, monkeypatch):
    files, manifest = make_zoo()
    server = HubServer(files)
    monkeypatch.setenv("ONYX_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ONYX_HUB_MANIFEST", server.url + "/ONNX_HUB_MANIFEST.json")
    monkeypatch.delenv("ONYX_HUB_OFFLINE", raising=False)
    yield server
    server.close()


def _gets(server, path):
    return [r for r in server.requests if r[0] == "GET" and r[1] == path]


def test_list_and_filter_by_tag(zoo):
    assert [(m.name, m.opset) for m in hub.list_models()] == [("TinyNet", 13), ("TinyNet", 17), ("TextToy", 17)]
    assert [m.name for m in hub.list_models(tags=["TEXT"])] == ["TextToy"]


def test_info_picks_the_newest_opset_unless_asked(zoo):
    assert hub.model_info("tinynet").opset == 17
    assert hub.model_info("TinyNet", opset=13).path == "models/tinynet/tinynet-13.onnx"
    with pytest.raises(HubError, match="has opset\\(s\\) 13, 17"):
        hub.model_info("TinyNet", opset=11)


def test_download_verifies_caches_and_runs(zoo, tmp_path):
    path = hub.download("TinyNet")
    assert path.is_relative_to(tmp_path / "cache")
    assert path.read_bytes() == zoo.files["/models/tinynet/tinynet-17.onnx"]
    assert hub.download("TinyNet") == path  # a second call is a cache hit: no second GET
    assert len(_gets(zoo, "/models/tinynet/tinynet-17.onnx")) == 1
    session = onyx.InferenceSession("hub:TinyNet@13")
    x = np.ones([1, 4096], np.float32)
    assert session.run(None, {"x": x})[0][0, 0] == 2.0
    assert onyx.InferenceSession("hub:tinynet").run(None, {"x": x})[0][0, 0] == 3.0


def test_corrupted_download_is_deleted_with_a_clear_error(zoo):
    zoo.files["/models/texttoy/texttoy-17.onnx"] = b"\0" * 100 + zoo.files["/models/texttoy/texttoy-17.onnx"][100:]
    with pytest.raises(ChecksumMismatch, match="sha256 .* the file was deleted"):
        hub.download("TextToy")
    folder = hub.cache_dir() / "models"
    assert not [p for p in folder.rglob("*") if p.is_file()]
    assert hub.cached_path("TextToy") is None


def test_interrupted_download_resumes_with_a_range_request(zoo):
    path = "/models/texttoy/texttoy-17.onnx"
    zoo.cut_after[path] = 5000
    with pytest.raises(HubError, match="stopped after 5000 .*run it again to resume"):
        hub.download("TextToy")
    local = hub.download("TextToy")
    assert local.read_bytes() == zoo.files[path]
    assert [r[2] for r in _gets(zoo, path)] == [None, "bytes=5000-"]


def test_offline_uses_the_cache_and_says_what_is_missing(zoo, monkeypatch):
    cached = hub.download("TinyNet", opset=13)
    zoo.close()  # nothing can be fetched any more
    monkeypatch.setenv("ONYX_HUB_OFFLINE", "1")
    assert hub.download("TinyNet", opset=13) == cached
    assert onyx.InferenceSession("hub:TinyNet@13").get_inputs()[0].name == "x"
    with pytest.raises(HubError, match="not in the cache .*ONYX_HUB_OFFLINE"):
        hub.download("TextToy")


def test_offline_without_a_cached_manifest(zoo, monkeypatch):
    monkeypatch.setenv("ONYX_HUB_OFFLINE", "1")
    with pytest.raises(HubError, match="manifest .* is not cached"):
        hub.list_models()


def test_unknown_name_suggests_close_ones(zoo):
    with pytest.raises(HubError, match="no model named 'TinyNett'.*did you mean 'TinyNet'"):
        onyx.InferenceSession("hub:TinyNett")


def test_unreachable_hub_is_a_clear_error(tmp_path, monkeypatch):
    server = HubServer({})
    url = server.url
    server.close()
    monkeypatch.setenv("ONYX_HUB_CACHE", str(tmp_path))
    with pytest.raises(HubError, match="cannot reach .*ONYX_HUB_OFFLINE"):
        hub.list_models(source=url)


def test_a_local_folder_is_a_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("ONYX_HUB_CACHE", str(tmp_path / "cache"))
    write_zoo(tmp_path / "zoo")
    path = hub.download("TextToy", source=tmp_path / "zoo")
    assert path == (tmp_path / "zoo" / "models/texttoy/texttoy-17.onnx").resolve()
    assert not (tmp_path / "cache").exists()


def test_manifest_paths_may_not_leave_a_local_hub(tmp_path):
    (tmp_path / "ONNX_HUB_MANIFEST.json").write_text(json.dumps([{"model": "x", "model_path": "../secret.onnx"}]))
    with pytest.raises(HubError, match="leaves the hub's folder"):
        hub.download("x", source=tmp_path)


def test_manifest_checksums_must_be_sha256(tmp_path):
    entry = {"model": "x", "model_path": "x.onnx", "metadata": {"model_sha": "../../../etc"}}
    (tmp_path / "ONNX_HUB_MANIFEST.json").write_text(json.dumps([entry]))
    with pytest.raises(HubError, match="model_sha must be 64 hex digits"):
        hub.list_models(source=tmp_path)


def test_malformed_manifest(tmp_path):
    (tmp_path / "ONNX_HUB_MANIFEST.json").write_text('{"model": "x"}')
    with pytest.raises(HubError, match="a JSON list of models"):
        hub.list_models(source=tmp_path)


def test_cli_list_info_download_path(zoo):
    runner = CliRunner()
    listed = runner.invoke(main, ["hub", "list", "--tag", "vision"])
    assert listed.exit_code == 0 and listed.output.count("TinyNet") == 2 and "TextToy" not in listed.output
    missing = runner.invoke(main, ["hub", "path", "TinyNet"])
    assert missing.exit_code == 2
    downloaded = runner.invoke(main, ["hub", "download", "TinyNet"])
    assert downloaded.exit_code == 0, downloaded.output
    local = downloaded.output.strip().splitlines()[-1]
    assert runner.invoke(main, ["hub", "path", "TinyNet"]).output.strip() == local
    info = runner.invoke(main, ["hub", "info", "TinyNet", "--json"])
    assert json.loads(info.output)["cached"] == local
    unknown = runner.invoke(main, ["hub", "info", "tiny"])
    assert unknown.exit_code == 2 and "did you mean 'TinyNet'" in unknown.output
    ran = runner.invoke(main, ["run", "hub:TextToy", "--json"])
    assert ran.exit_code == 0 and json.loads(ran.output)["outputs"]["y"]["shape"] == [1, 4096]


def test_hub_reference_syntax_errors(zoo):
    with pytest.raises(HubError, match="opset after '@' must be a number"):
        hub.resolve("hub:TinyNet@latest")
    with pytest.raises(HubError, match="hf://ORG/REPO/FILE.onnx"):
        hub.resolve("hf://just-a-repo")


# -- Hugging Face (huggingface_hub against the loopback server as HF_ENDPOINT) ---------------

@pytest.fixture
def hf_repo(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub", reason="the [hub] extra is not installed")
    model = tiny_model(7.0, 17, size=8, external="weights.bin")
    onnx_dir = tmp_path / "export"
    onnx_dir.mkdir()
    import onnx

    onnx.save(model, onnx_dir / "model.onnx")
    files = {f"/org/toy/resolve/main/onnx/{name}": (onnx_dir / name).read_bytes() for name in ("model.onnx", "weights.bin")}
    server = HubServer(files)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("ONYX_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("ONYX_HUB_OFFLINE", raising=False)
    yield server
    server.close()


def test_hf_model_with_external_data(hf_repo, monkeypatch):
    session = onyx.InferenceSession("hf://org/toy/onnx/model.onnx")
    assert session.run(None, {"x": np.ones([2, 8], np.float32)})[0].tolist() == [[7.0] * 8] * 2
    local = hub.resolve("hf://org/toy/onnx/model.onnx")
    assert local == hub.cache_dir() / "huggingface/org/toy/main/onnx/model.onnx"
    assert (local.parent / "weights.bin").read_bytes() == hf_repo.files["/org/toy/resolve/main/onnx/weights.bin"]
    hf_repo.close()
    monkeypatch.setenv("ONYX_HUB_OFFLINE", "1")
    assert onyx.InferenceSession("hf://org/toy/onnx/model.onnx").get_inputs()[0].name == "x"
    with pytest.raises(HubError, match="in the cache"):
        hub.resolve("hf://org/toy/onnx/other.onnx")


def test_hf_url_parts():
    from onyx.hub.huggingface import parse_hf_url

    assert parse_hf_url("hf://org/repo/a/b.onnx") == ("org/repo", None, "a/b.onnx")
    assert parse_hf_url("hf://org/repo@v1.0/b.onnx") == ("org/repo", "v1.0", "b.onnx")
    for bad in ("hf://org/repo/../b.onnx", "hf://../repo/b.onnx", "hf://org/repo@../b.onnx"):
        with pytest.raises(HubError, match="'..' are not names"):
            parse_hf_url(bad)

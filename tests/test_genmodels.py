"""The generated stand-in models: real ONNX names, deterministic, and run end to end by FunASR's own runtimes.

funasr_onnx 0.4.3 (in its own venv) constructs every class on a stand-in directory the way a
deployer does and calls it on an espeak-ng utterance; FunASR's C++ binaries from
``../shared/funasr-cpp`` load and run the same directories.  ``RUNTIME_FILES`` (the contract
written from FunASR's sources) is checked against both: a directory with exactly the files it
names runs, and taking any one of them away breaks the run.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from support.genmodels import (
    CONFIG,
    FAMILIES,
    HUB_ONNX_REPO,
    ONNX_SPECS,
    PYTORCH_SIDE,
    RUNTIME_FILES,
    SIDE,
    quant_name,
    required_files,
    write_family,
)
from support.runtimes import (
    HOTWORDS,
    SV_TAGS,
    CppRun,
    check_result,
    cpp_offline,
    cpp_offline_vad,
    funasr_onnx_jobs,
    near,
    run_funasr_onnx_jobs,
    wss_server,
)
from support.speech import BACKGROUNDS, Utterance, make_utterance

ONNX_FAMILIES = tuple(ONNX_SPECS)


def _dir_name(family: str) -> str:
    # The C++ runtime picks SenseVoice by this name in the model path (offline-stream.cpp:50).
    return "SenseVoiceSmall-standin" if family == "sensevoice" else family


@pytest.fixture(scope="module")
def standins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every family, fp32 and quantized ONNX files, written once."""
    root = tmp_path_factory.mktemp("standins")
    out = {}
    for family in FAMILIES:
        out[family] = root / _dir_name(family)
        write_family(family, out[family], quant=family in ONNX_SPECS)
    return out


@pytest.fixture(scope="module")
def hotword_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C++ runtime's hotword file (``word weight`` lines); "hello" goes through seg_dict."""
    path = tmp_path_factory.mktemp("hotwords") / "hotwords.txt"
    path.write_text("阿里巴巴 20\n魔搭 10\nhello 5\n", encoding="utf-8")
    return path


# ---- the ONNX files themselves -----------------------------------------------------------------


def _feed(session: ort.InferenceSession) -> dict[str, np.ndarray]:
    feed = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) else 3 for d in i.shape]
        if "int" in i.type:
            feed[i.name] = np.ones(shape, dtype=np.int64 if "int64" in i.type else np.int32)
        else:
            feed[i.name] = np.zeros(shape, dtype=np.float32)
    return feed


@pytest.mark.parametrize("family", FAMILIES)
def test_family_dir_is_complete_and_runs(family: str, tmp_path: Path) -> None:
    names = write_family(family, tmp_path, extras=True)
    # Completeness by the contract written from FunASR's source, not by our own selection.
    for runtime in RUNTIME_FILES[family]:
        assert required_files(family, runtime, quantize=False) <= set(names), runtime
    for file, (inputs, outputs) in ONNX_SPECS.get(family, {}).items():
        session = ort.InferenceSession(str(tmp_path / file), providers=["CPUExecutionProvider"])
        assert [(i.name, i.shape) for i in session.get_inputs()] == [(n, s) for n, _, s in inputs]
        assert [(o.name, o.shape) for o in session.get_outputs()] == [(n, s) for n, _, s in outputs]
        results = session.run(None, _feed(session))
        assert len(results) == len(outputs)


@pytest.mark.parametrize("family", FAMILIES)
def test_deterministic(family: str, tmp_path: Path) -> None:
    a = write_family(family, tmp_path / "a", quant=family in ONNX_SPECS, weight_mb=0.1)
    b = write_family(family, tmp_path / "b", quant=family in ONNX_SPECS, weight_mb=0.1)
    assert a == b
    for name in a:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_onnx_files_choose_what_is_written(tmp_path: Path) -> None:
    names = write_family("paraformer-contextual", tmp_path / "hub", **HUB_ONNX_REPO["paraformer-contextual"])
    assert [n for n in names if n.endswith(".onnx")] == ["model_eb.onnx", "model_quant.onnx"]
    names = write_family("sensevoice", tmp_path / "sv", **HUB_ONNX_REPO["sensevoice"])
    assert "chn_jpn_yue_eng_ko_spectok.bpe.model" not in names and "model.onnx" not in names
    quant = ort.InferenceSession(str(tmp_path / "sv" / "model_quant.onnx"), providers=["CPUExecutionProvider"])
    assert "MatMulInteger" in {n.op_type for n in onnx.load(str(tmp_path / "sv" / "model_quant.onnx")).graph.node}
    assert [i.name for i in quant.get_inputs()] == ["speech", "speech_lengths", "language", "textnorm"]
    with pytest.raises(ValueError, match="no ONNX stand-in named"):
        write_family("paraformer", tmp_path / "x", onnx_files=("decoder.onnx",))


@pytest.mark.parametrize("family", [*PYTORCH_SIDE, "paraformer"])
def test_pytorch_stand_in_has_what_automodel_reads(family: str, tmp_path: Path) -> None:
    names = write_family(family, tmp_path, pytorch=True, extras=True)
    # AutoModel (funasr/download/download_model_from_hub.py) joins every file_path_metas value
    # onto the directory and reads the "config" one; each must be a file written here.
    metas = json.loads((tmp_path / "configuration.json").read_text())["file_path_metas"]
    targets = [v for v in metas.values() if isinstance(v, str)]
    targets += [v for d in metas.values() if isinstance(d, dict) for v in d.values()]
    assert metas["config"] == "config.yaml" and metas["init_param"] == "model.pt"
    assert set(targets) <= set(names)


def test_contract_names_the_files_the_stand_ins_write() -> None:
    for family, runtimes in RUNTIME_FILES.items():
        written = (
            set(SIDE[family]) | set(ONNX_SPECS.get(family, {})) | {quant_name(n) for n in ONNX_SPECS.get(family, {})}
        )
        config = CONFIG.get(family, "")
        reads = [r for rs in runtimes.values() for r in rs]
        # Every file written is read by someone; every file read is written, except optional reads
        # ("if present") and reads under a config.yaml switch the stand-in leaves off (ct-punc-realtime's seg_jieba).
        needed = {r.file for r in reads if r.when in ("always", "fp32", "quant") or r.when in config}
        assert needed <= written <= {r.file for r in reads}, family
        for reads in runtimes.values():
            for r in reads:
                assert r.reader and r.reads and ":" in r.reader, r


# ---- funasr_onnx -------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ONNX_FAMILIES)
def test_funasr_onnx_runs_every_class(family: str, standins: dict[str, Path], utterance: Utterance) -> None:
    jobs = [
        job for quantize in (False, True) for job in funasr_onnx_jobs(family, standins[family], utterance.wav, quantize)
    ]
    for job, run in zip(jobs, run_funasr_onnx_jobs(jobs), strict=True):
        check_result(job, run, utterance)


def _copy_without(src: Path, dest: Path, keep: Callable[[str], bool]) -> Path:
    dest.mkdir(parents=True)
    for path in src.iterdir():
        if keep(path.name):
            shutil.copy2(path, dest / path.name)
    return dest


@pytest.mark.parametrize("family", ONNX_FAMILIES)
def test_funasr_onnx_needs_exactly_the_contract_files(
    family: str, standins: dict[str, Path], utterance: Utterance, tmp_path: Path
) -> None:
    """Only the files RUNTIME_FILES names: that runs; without any one of them it does not."""
    needed = required_files(family, "funasr_onnx", quantize=True)
    cases = {"minimal": _copy_without(standins[family], tmp_path / _dir_name(family), needed.__contains__)}
    for name in sorted(needed):
        cases[name] = _copy_without(
            standins[family], tmp_path / f"no-{name}" / _dir_name(family), lambda n, x=name: n != x
        )
    jobs = {case: funasr_onnx_jobs(family, path, utterance.wav, True) for case, path in cases.items()}
    flat = [job for case_jobs in jobs.values() for job in case_jobs]
    runs = iter(run_funasr_onnx_jobs(flat))
    for case, case_jobs in jobs.items():
        for job in case_jobs:
            run = next(runs)
            if case == "minimal":
                check_result(job, run, utterance)
            else:
                assert not run.ok, f"{job.cls} ran without {case}"


@pytest.mark.parametrize("family", ONNX_FAMILIES)
def test_official_onnx_repo_shape(family: str, utterance: Utterance, tmp_path: Path) -> None:
    """A directory shaped like the official -onnx repository runs exactly where the contract says it can."""
    model_dir = tmp_path / _dir_name(family)
    present = set(write_family(family, model_dir, **HUB_ONNX_REPO[family]))
    jobs = [job for quantize in (True, False) for job in funasr_onnx_jobs(family, model_dir, utterance.wav, quantize)]
    for job, run in zip(jobs, run_funasr_onnx_jobs(jobs), strict=True):
        if required_files(family, "funasr_onnx", quantize=job.quantize) <= present:
            check_result(job, run, utterance)
        else:
            assert not run.ok, f"{job.cls}(quantize={job.quantize}) ran without the contract's files"
    # what the listings say: contextual has no model_eb_quant.onnx, SenseVoiceSmall-onnx no bpe model
    runnable = {q for q in (True, False) if required_files(family, "funasr_onnx", quantize=q) <= present}
    assert runnable == (set() if family in ("paraformer-contextual", "sensevoice") else {True})


# ---- the C++ runtime ---------------------------------------------------------------------------


def _cpp_expect(run: CppRun, *paths: Path) -> dict[str, object]:
    """The run finished cleanly, loaded every one of ``paths`` and printed one jsonl result."""
    run.check()
    loaded = {Path(p) for line in run.loaded for p in line.split(", ")}
    missing = [p for p in paths if p not in loaded]
    assert not missing, f"not loaded: {missing}\n{run.stderr[-3000:]}"
    results = run.jsonl()
    assert len(results) == 1, run.stdout
    return results[0]


def _onnx(model_dir: Path, name: str, quantize: bool) -> Path:
    return model_dir / (quant_name(name) if quantize else name)


@pytest.mark.parametrize("quantize", [False, True])
def test_cpp_offline_vad(quantize: bool, standins: dict[str, Path], utterance: Utterance) -> None:
    run, segments = cpp_offline_vad(standins["fsmn-vad"], utterance.wav, quantize=quantize)
    run.check()
    assert _onnx(standins["fsmn-vad"], "model.onnx", quantize) == Path(run.loaded[0])
    assert len(segments) == 1 and near(segments[0][0], utterance.speech_start_ms), segments
    assert near(segments[0][1], utterance.speech_end_ms), segments


@pytest.fixture(scope="module", params=[b for b in BACKGROUNDS if b != "digital"])
def recorded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Utterance:
    """The utterance with silence as recordings have it: +-1 LSB dither or a noise floor."""
    return make_utterance(tmp_path_factory.mktemp("recorded") / f"{request.param}.wav", background=request.param)


def test_the_vad_standin_finds_the_speech_in_dithered_silence_and_noise_floors(
    standins: dict[str, Path], recorded: Utterance
) -> None:
    """The stand-in VAD's segments hold beyond exact digital zero: in +-1 LSB dither and under
    -60 and -50 dBFS noise floors, funasr_onnx (offline and streaming, fp32 and quantized) and
    the C++ runtime find one segment around the speech.  A -40 dBFS floor is as loud as quiet
    speech frames; the stand-in decides by frame energy alone, so it makes no claim there
    (support/genmodels.py _vad says so, with the measured levels)."""
    vad = standins["fsmn-vad"]
    jobs = [job for quantize in (False, True) for job in funasr_onnx_jobs("fsmn-vad", vad, recorded.wav, quantize)]
    for job, run in zip(jobs, run_funasr_onnx_jobs(jobs), strict=True):
        check_result(job, run, recorded)
    run, segments = cpp_offline_vad(vad, recorded.wav, quantize=True)
    run.check()
    assert len(segments) == 1 and near(segments[0][0], recorded.speech_start_ms), segments
    assert near(segments[0][1], recorded.speech_end_ms), segments


@pytest.mark.parametrize("quantize", [False, True])
def test_cpp_offline_paraformer_with_timestamps(
    quantize: bool, standins: dict[str, Path], utterance: Utterance
) -> None:
    para = standins["paraformer"]
    result = _cpp_expect(cpp_offline(para, utterance.wav, quantize=quantize), _onnx(para, "model.onnx", quantize))
    text, stamps = result["text"], result["timestamp"]
    assert isinstance(text, str) and isinstance(stamps, list)
    assert text and len(stamps) == len(text), result  # one [start, end] per character


@pytest.mark.parametrize("quantize", [False, True])
def test_cpp_offline_server_set(quantize: bool, standins: dict[str, Path], utterance: Utterance) -> None:
    """VAD + Paraformer (timestamps) + CT-punc (jieba) + n-gram LM + ITN: the seed's offline file set."""
    s = standins
    run = cpp_offline(
        s["paraformer"],
        utterance.wav,
        quantize=quantize,
        vad_dir=s["fsmn-vad"],
        punc_dir=s["ct-punc"],
        lm_dir=s["ngram-lm"],
        itn_dir=s["fst-itn"],
    )
    result = _cpp_expect(
        run,
        _onnx(s["fsmn-vad"], "model.onnx", quantize),
        _onnx(s["paraformer"], "model.onnx", quantize),
        _onnx(s["ct-punc"], "model.onnx", quantize),
        s["ct-punc"] / "jieba.c.dict",
        s["ct-punc"] / "jieba.hmm",
        s["ngram-lm"] / "TLG.fst",
        s["fst-itn"] / "zh_itn_tagger.fst",
        s["fst-itn"] / "zh_itn_verbalizer.fst",
    )
    assert result["text"] and str(result["text"]).endswith("。"), result
    assert result["timestamp"] and result["stamp_sents"], result
    # the ITN stand-in is the identity: the same text without it proves it ran and kept it whole
    without_itn = cpp_offline(
        s["paraformer"],
        utterance.wav,
        quantize=quantize,
        vad_dir=s["fsmn-vad"],
        punc_dir=s["ct-punc"],
        lm_dir=s["ngram-lm"],
    )
    assert _cpp_expect(without_itn)["text"] == result["text"]


@pytest.mark.parametrize("quantize", [False, True])
def test_cpp_offline_contextual_hotwords(
    quantize: bool, standins: dict[str, Path], utterance: Utterance, hotword_file: Path
) -> None:
    ctx = standins["paraformer-contextual"]
    run = cpp_offline(ctx, utterance.wav, quantize=quantize, vad_dir=standins["fsmn-vad"], hotword_file=hotword_file)
    # model_eb.onnx is loaded fp32 whatever --quantize says (offline-stream.cpp:60-65)
    result = _cpp_expect(run, ctx / "model_eb.onnx", _onnx(ctx, "model.onnx", quantize))
    assert "load seg dict successfully" in run.stderr
    assert "clas shape 4 10" in run.stderr  # 3 hotwords (hello through seg_dict) + the blank one
    assert result["text"], result


def test_cpp_offline_binary_crashes_on_sensevoice(standins: dict[str, Path], utterance: Utterance) -> None:
    """FunASR bug, real models too: FunOfflineInfer (funasrruntime.cpp:387) calls the Paraformer
    Forward signature, which SenseVoiceSmall does not override (model.h:27-28 returns an empty
    vector), then indexes msg_batch[0].  SenseVoice runs through funasr-wss-server instead."""
    run = cpp_offline(standins["sensevoice"], utterance.wav, quantize=True)
    assert str(standins["sensevoice"] / "model_quant.onnx") in run.loaded
    assert run.returncode != 0 and not run.jsonl(), run.returncode  # SIGSEGV here


@pytest.mark.parametrize("quantize", [False, True])
def test_wss_server_sensevoice(quantize: bool, standins: dict[str, Path], utterance: Utterance, tmp_path: Path) -> None:
    sv = standins["sensevoice"]
    with wss_server(tmp_path / "server.log", model_dir=sv, quantize=quantize, vad_dir=standins["fsmn-vad"]) as server:
        assert {
            str(_onnx(sv, "model.onnx", quantize)),
            str(_onnx(standins["fsmn-vad"], "model.onnx", quantize)),
        } <= set(server.loaded)
        result = server.transcribe(utterance.wav, svs_lang="auto", svs_itn=True)
    assert str(result["text"]).startswith(SV_TAGS + " ") and str(result["text"]).endswith("."), result


@pytest.mark.parametrize("quantize", [False, True])
def test_wss_server_offline_set_with_hotwords(
    quantize: bool, standins: dict[str, Path], utterance: Utterance, tmp_path: Path
) -> None:
    s = standins
    roles = {"vad_dir": s["fsmn-vad"], "punc_dir": s["ct-punc"], "itn_dir": s["fst-itn"]}
    with wss_server(tmp_path / "ctx.log", model_dir=s["paraformer-contextual"], quantize=quantize, **roles) as server:
        assert str(s["paraformer-contextual"] / "model_eb.onnx") in server.loaded
        result = server.transcribe(utterance.wav, hotwords=HOTWORDS)
        assert "clas shape 3 10" in server.text()  # the client's two hotwords + the blank one
    assert str(result["text"]).endswith("。"), result
    with wss_server(
        tmp_path / "lm.log", model_dir=s["paraformer"], quantize=quantize, lm_dir=s["ngram-lm"], **roles
    ) as server:
        assert str(s["ngram-lm"] / "TLG.fst") in server.loaded
        result = server.transcribe(utterance.wav)
    assert result["text"] and result["timestamp"] and result["stamp_sents"], result
    json.loads(str(result["timestamp"]))


def _cpp_run(family: str, model_dir: Path, s: dict[str, Path], wav: Path, hotword_file: Path) -> tuple[CppRun, Path]:
    """Run the binary that loads ``family`` from ``model_dir`` (quantized); return it and the file it must load."""
    para = s["paraformer"]
    if family == "fsmn-vad":
        return cpp_offline_vad(model_dir, wav, quantize=True)[0], model_dir / "model_quant.onnx"
    runs: dict[str, tuple[Callable[[], CppRun], Path]] = {
        "paraformer": (lambda: cpp_offline(model_dir, wav, quantize=True), model_dir / "model_quant.onnx"),
        "paraformer-contextual": (
            lambda: cpp_offline(model_dir, wav, quantize=True, hotword_file=hotword_file),
            model_dir / "model_eb.onnx",
        ),
        "ct-punc": (lambda: cpp_offline(para, wav, quantize=True, punc_dir=model_dir), model_dir / "model_quant.onnx"),
        "ngram-lm": (lambda: cpp_offline(para, wav, quantize=True, lm_dir=model_dir), model_dir / "TLG.fst"),
        "fst-itn": (
            lambda: cpp_offline(para, wav, quantize=True, itn_dir=model_dir),
            model_dir / "zh_itn_verbalizer.fst",
        ),
    }
    run, must = runs[family]
    return run(), must


def _cpp_ok(run: CppRun, must: Path) -> bool:
    errors = [line for line in run.stderr.splitlines() if line.startswith(("E", "F")) and "] " in line]
    loaded = {Path(p) for line in run.loaded for p in line.split(", ")}
    return run.returncode == 0 and not errors and must in loaded and (not run.stdout or bool(run.jsonl()))


@pytest.mark.parametrize(
    "family", ["paraformer", "paraformer-contextual", "fsmn-vad", "ct-punc", "ngram-lm", "fst-itn"]
)
def test_cpp_needs_exactly_the_contract_files(
    family: str, standins: dict[str, Path], utterance: Utterance, hotword_file: Path, tmp_path: Path
) -> None:
    """funasr-onnx-offline(-vad) with only the files RUNTIME_FILES names runs; without any one it fails,
    logs an error, or skips the role (the C++ runtime's way of failing quietly)."""
    needed = required_files(family, "cpp", quantize=True, conditions=("seg_jieba: true",))
    minimal = _copy_without(standins[family], tmp_path / "minimal" / family, needed.__contains__)
    run, must = _cpp_run(family, minimal, standins, utterance.wav, hotword_file)
    assert _cpp_ok(run, must), run.stderr[-3000:]
    for name in sorted(needed):
        model_dir = _copy_without(standins[family], tmp_path / f"no-{name}" / family, lambda n, x=name: n != x)
        run, must = _cpp_run(family, model_dir, standins, utterance.wav, hotword_file)
        assert not _cpp_ok(run, must), f"{family} ran cleanly without {name}"


@pytest.mark.parametrize("family", ["paraformer", "paraformer-contextual", "fsmn-vad", "ct-punc"])
def test_cpp_runs_the_official_onnx_repo_shape(
    family: str, standins: dict[str, Path], utterance: Utterance, hotword_file: Path, tmp_path: Path
) -> None:
    """The C++ server's default (--quantize true) needs only what the official -onnx repositories ship."""
    model_dir = tmp_path / family
    present = set(write_family(family, model_dir, **HUB_ONNX_REPO[family]))
    assert required_files(family, "cpp", quantize=True, conditions=("seg_jieba: true",)) <= present
    run, must = _cpp_run(family, model_dir, standins, utterance.wav, hotword_file)
    assert _cpp_ok(run, must), run.stderr[-3000:]


def _wss_sensevoice_ok(model_dir: Path, vad_dir: Path, wav: Path, log: Path) -> bool:
    try:
        with wss_server(log, model_dir=model_dir, quantize=True, vad_dir=vad_dir) as server:
            loaded = str(model_dir / "model_quant.onnx") in server.loaded
            return loaded and str(server.transcribe(wav)["text"]).startswith(SV_TAGS)
    except (AssertionError, ConnectionError):  # the server exited at start-up or dropped the request
        return False


def test_wss_server_needs_exactly_the_contract_files_of_sensevoice(
    standins: dict[str, Path], utterance: Utterance, tmp_path: Path
) -> None:
    needed = required_files("sensevoice", "cpp", quantize=True)
    src, vad = standins["sensevoice"], standins["fsmn-vad"]
    minimal = _copy_without(src, tmp_path / "minimal" / _dir_name("sensevoice"), needed.__contains__)
    assert _wss_sensevoice_ok(minimal, vad, utterance.wav, tmp_path / "minimal.log")
    for name in sorted(needed):
        model_dir = _copy_without(src, tmp_path / f"no-{name}" / _dir_name("sensevoice"), lambda n, x=name: n != x)
        assert not _wss_sensevoice_ok(model_dir, vad, utterance.wav, tmp_path / f"no-{name}.log"), name

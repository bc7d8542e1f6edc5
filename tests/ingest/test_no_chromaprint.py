"""Defect 16 (issue 10): a machine without libchromaprint.

The library's absence is simulated by making its lookup find nothing (the one thing
that differs on such a machine); everything else is the real code path. On main an
audio file raised ``ChromaprintUnavailable`` out of the worker: ``hash`` over a folder
with a WAV aborted and left truncated JSON, and ingest of audio/video stopped (exit 3).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from tessera.cli.main import cli
from tessera.fingerprints import chromaprint
from tessera.pipeline.fingerprint import hash_file
from tessera.pipeline.options import HashOptions


def _wav(path: Path, seconds: float = 3.0) -> None:
    rate = 11025
    t = np.arange(int(rate * seconds)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    buf = io.BytesIO()
    with av.open(buf, "w", format="wav") as out:
        st = out.add_stream("pcm_s16le", rate=rate)
        frame = av.AudioFrame.from_ndarray(tone[None, :], format="s16", layout="mono")
        frame.sample_rate = rate
        for pkt in st.encode(frame):
            out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    path.write_bytes(buf.getvalue())


@pytest.fixture
def no_chromaprint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chromaprint, "_lib", None)
    monkeypatch.setattr(chromaprint, "_find_library", lambda: None)


def test_audio_file_gets_a_reason_not_an_abort(tmp_path: Path, no_chromaprint: None) -> None:
    wav = tmp_path / "tone.wav"
    _wav(wav)
    r = hash_file(wav, HashOptions())
    assert r.status == "error"
    assert r.reason == "chromaprint-unavailable"
    assert "libchromaprint" in (r.message or "")
    assert r.sha256 is not None  # the exact digests still count


def test_hash_json_over_a_folder_with_a_wav_stays_whole(
    tmp_path: Path, no_chromaprint: None
) -> None:
    _wav(tmp_path / "a.wav")
    (tmp_path / "b.txt").write_text("not media")
    result = CliRunner().invoke(cli, ["hash", "--json", "--workers", "1", str(tmp_path)])
    doc = json.loads(result.output)  # whole JSON
    by_name = {Path(r["path"]).name: r for r in doc["results"]}
    assert by_name["a.wav"]["error"]["reason"] == "chromaprint-unavailable"
    assert by_name["b.txt"]["error"]["reason"] == "unsupported-format"
    assert result.exit_code == 1

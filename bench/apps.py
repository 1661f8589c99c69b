"""Real onnxruntime applications from PyPI, run unchanged on onnxruntime and under `onyx exec`.

Each application ships its ONNX model inside its wheel and calls onnxruntime itself; this
harness runs the same small job with each runtime in a fresh process and compares the results
(labels and texts exactly, scores and boxes within 1e-4). Not part of CI: the packages are
large (opencv, 100+ MB of models). Set up once, in a separate environment:

    python3 -m venv /tmp/apps && /tmp/apps/bin/pip install -e . onnxruntime==1.32.0 \\
        magika ddddocr nudenet rapidocr_onnxruntime rapid-layout Pillow
    /tmp/apps/bin/python bench/apps.py            # all applications
    /tmp/apps/bin/python bench/apps.py magika     # one

Inputs are made here (rendered text, the repository's own files, scikit-learn's sample photos
when installed, or the .jpg files of $APPS_PHOTOS); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _text_image(path: Path, lines: list[str], size: tuple[int, int], font_size: int) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=font_size)
    for i, line in enumerate(lines):
        draw.text((10, 10 + i * int(font_size * 1.4)), line, fill="black", font=font)
    image.save(path)
    return path


def _photos() -> list[str]:
    """Real photographs: the .jpg files of the folder $APPS_PHOTOS, or scikit-learn's sample
    images where installed."""
    if os.environ.get("APPS_PHOTOS"):
        return [str(p) for p in sorted(Path(os.environ["APPS_PHOTOS"]).glob("*.jpg"))]
    try:
        import sklearn.datasets

        folder = Path(sklearn.datasets.__file__).parent / "images"
        return [str(p) for p in sorted(folder.glob("*.jpg"))]
    except ImportError:
        return []


# -- the jobs: each runs inside the application's process and returns JSON-able results ---------


def job_magika(work: Path) -> Any:
    from magika import Magika

    magika = Magika()
    files = [REPO / "README.md", REPO / "pyproject.toml", Path(__file__), REPO / "examples/digits/digits.onnx",
             _text_image(work / "page.png", ["a png"], (120, 40), 16)]
    files += [Path(p) for p in _photos()]
    results = [magika.identify_path(f) for f in files]
    return [{"file": f.name, "label": r.output.label, "score": r.score} for f, r in zip(files, results)]


def job_ddddocr(work: Path) -> Any:
    import ddddocr
    from PIL import Image, ImageDraw, ImageFont

    captcha = work / "captcha.png"
    image = Image.new("RGB", (160, 60), (230, 230, 230))
    ImageDraw.Draw(image).text((15, 8), "x7Kp", fill=(20, 20, 120), font=ImageFont.load_default(size=40))
    image.save(captcha)
    page = _text_image(work / "page.png", ["Hello onyx 2026", "ONNX runtime OK"], (420, 120), 36)
    ocr = ddddocr.DdddOcr(show_ad=False)
    detector = ddddocr.DdddOcr(det=True, ocr=False, show_ad=False)
    return {"captcha": ocr.classification(captcha.read_bytes()), "boxes": detector.detection(page.read_bytes())}


def job_nudenet(work: Path) -> Any:
    """Detections, and (as photos without people give none) the five best class scores of the
    application's own session on its own preprocessing."""
    from nudenet import NudeDetector
    from nudenet.nudenet import _read_image

    detector = NudeDetector()
    images = _photos() or [str(_text_image(work / "page.png", ["no photo here"], (320, 320), 24))]
    results = {}
    for path in images:
        (outputs,) = detector.onnx_session.run(None, {detector.input_name: _read_image(path, detector.input_width)[0]})
        scores = sorted(outputs[0, 4:].max(axis=0).tolist(), reverse=True)[:5]
        results[Path(path).name] = {"detections": detector.detect(path), "best_scores": scores}
    return results


def job_rapidocr(work: Path) -> Any:
    from rapidocr_onnxruntime import RapidOCR

    page = _text_image(work / "page.png", ["Hello onyx 2026", "ONNX runtime OK", "3.14159 x 42"], (460, 170), 36)
    result, _ = RapidOCR()(str(page))
    return [{"box": box, "text": text, "score": score} for box, text, score in result]


def job_rapid_layout(work: Path) -> Any:
    from rapid_layout import RapidLayout

    page = _text_image(work / "page.png", ["A Title", "", "Some body text of the page, in a paragraph", "that runs over",
                                           "two lines.", "", "Figure 1: a caption"], (640, 420), 28)
    result = RapidLayout()(str(page))
    return {"boxes": [list(map(float, b)) for b in result.boxes], "classes": list(result.class_names),
            "scores": [float(x) for x in result.scores]}


JOBS = {"magika": job_magika, "ddddocr": job_ddddocr, "nudenet": job_nudenet, "rapidocr": job_rapidocr,
        "rapid_layout": job_rapid_layout}


def _worker(name: str) -> None:
    import onnxruntime

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = JOBS[name](Path(tmp))
        seconds = time.perf_counter() - started
    runtime = "onyx" if hasattr(onnxruntime, "onyx_version") else "onnxruntime"
    print("RESULT " + json.dumps({"runtime": runtime, "seconds": seconds, "result": result}))


# -- the driver ------------------------------------------------------------------------------------


def _run(name: str, on_onyx: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", name]
    if on_onyx:
        command = [sys.executable, "-m", "onyx.exec", *command]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=1800, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1][len("RESULT "):])


def differences(a: Any, b: Any, where: str = "") -> tuple[list[str], float]:
    """Where two results differ (strings, lengths, keys exactly; numbers beyond 1e-4) and the
    largest numeric difference."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(a)} vs {sorted(b)}"], 0.0
        found, worst = [], 0.0
        for key in a:
            diffs, d = differences(a[key], b[key], f"{where}.{key}")
            found, worst = found + diffs, max(worst, d)
        return found, worst
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} vs {len(b)} items"], 0.0
        found, worst = [], 0.0
        for i, (x, y) in enumerate(zip(a, b)):
            diffs, d = differences(x, y, f"{where}[{i}]")
            found, worst = found + diffs, max(worst, d)
        return found, worst
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        d = abs(a - b)
        return ([f"{where}: {a} vs {b}"] if d > 1e-4 * max(1.0, abs(a)) else []), d
    return ([] if a == b else [f"{where}: {a!r} vs {b!r}"]), 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("apps", nargs="*", default=list(JOBS), help=f"applications to run (default: all of {', '.join(JOBS)})")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker)
        return
    print("| application | onnxruntime s | onyx s | results | largest numeric difference |")
    print("|---|---|---|---|---|")
    for name in args.apps:
        ort, onyx = _run(name, on_onyx=False), _run(name, on_onyx=True)
        if "error" in ort or "error" in onyx:
            print(f"| {name} | {ort.get('error', '')} | {onyx.get('error', '')} | failed | |")
            continue
        assert (ort["runtime"], onyx["runtime"]) == ("onnxruntime", "onyx"), (ort["runtime"], onyx["runtime"])
        found, worst = differences(ort["result"], onyx["result"])
        verdict = "identical" if not found and worst == 0 else "same within 1e-4" if not found else "; ".join(found[:3])
        print(f"| {name} | {ort['seconds']:.2f} | {onyx['seconds']:.2f} | {verdict} | {worst:.2e} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

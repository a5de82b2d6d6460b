"""End-to-end `avrec train` on a MicroLens-layout fixture built from scikit-image's CC0 photos.

Writes the fixture of tests/video (six items: real clips, covers, one
corrupt video, missing files), then runs `avrec train` twice with the same
cache directory and prints each run's wall time and the video encoder's
counts from metrics.json. The second run must decode no file.

    python benchmarks/video_microlens_train.py --workdir /tmp/microlens-e2e
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "video"))

from media_builders import write_microlens  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="folder for the fixture, cache and runs (emptied)")
    parser.add_argument("--encoders", default="[id,text,video]", help="value of the encoder= override")
    parser.add_argument("--fusion", default="gated")
    parser.add_argument("--epochs", type=int, default=5)
    return parser.parse_args()


def train(args: argparse.Namespace, data_dir: Path, run_dir: Path) -> dict:
    command = [
        "avrec", "train", "experiment=bpr", "dataset=microlens", f"dataset.data_dir={data_dir}",
        f"encoder={args.encoders}", f"fusion={args.fusion}", f"trainer.epochs={args.epochs}",
        "trainer.num_threads=2", "trainer.progress=false", "encoder.video.progress=false",
        f"cache_dir={args.workdir / 'cache'}", f"hydra.run.dir={run_dir}",
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    return {"command": " ".join(command), "seconds": round(seconds, 1), "ndcg@10": metrics["test"]["ndcg@10"],
            "video": metrics["video"]}


def main() -> None:
    args = parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    data_dir = write_microlens(args.workdir / "MicroLens-100k")
    runs = [train(args, data_dir, args.workdir / f"run-{index}") for index in (1, 2)]
    print(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()

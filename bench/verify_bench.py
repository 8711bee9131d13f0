#!/usr/bin/env python3
"""Times `reclaim verify` with one ID photo and 15 selfie frames.

    cargo build --release -p reclaim-cli -p reclaim-docgen -p reclaim-facegen
    python3 bench/verify_bench.py [--runs 5]

Generates a passport page (1600x1200, degradation "mild") with `reclaim-docgen` and a
genuine 640x480 head-turn sequence with `reclaim-facegen` (challenge left,right at 7
frames a second, cut to 15 frames if longer), then runs `reclaim verify` several times:
whole-process wall time, the in-process decision time the command reports (models already
prepared, as in the server and the app), and peak memory (max RSS, from GNU time).
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
FACE = ROOT / "tests/data/faces/ardern-1.jpg"
PORTRAIT = ROOT / "tests/data/faces/ardern-2.jpg"


def geometry(reclaim, photo):
    """The detector's face box and landmarks of `photo`, from `reclaim compare --json`."""
    out = subprocess.run([reclaim, "compare", str(photo), str(photo), "--json"],
                         check=True, capture_output=True, text=True)
    face = json.loads(out.stdout)["image_a"]["face"]
    box = ",".join(f"{v:.1f}" for v in face["bbox"])
    marks = ",".join(f"{v:.1f}" for p in face["landmarks"] for v in p)
    return box, marks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    default_dir = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
    ap.add_argument("--bin", default=str(default_dir))
    args = ap.parse_args()
    bindir = pathlib.Path(args.bin)
    reclaim, docgen, facegen = (str(bindir / n) for n in ("reclaim", "reclaim-docgen", "reclaim-facegen"))
    with tempfile.TemporaryDirectory() as out:
        portrait_box, _ = geometry(reclaim, PORTRAIT)
        subprocess.run([docgen, "--out", out, "--photo", str(PORTRAIT), "--face-box", portrait_box,
                        "--seed", "3"], check=True, capture_output=True)
        box, marks = geometry(reclaim, FACE)
        frames_dir = pathlib.Path(out) / "frames"
        subprocess.run([facegen, "--photo", str(FACE), "--landmarks", marks, "--box", box, "--kind", "genuine",
                        "--challenge", "left,right", "--seed", "7", "--fps", "7", "--format", "jpg",
                        "--out", str(frames_dir)], check=True, capture_output=True)
        lines = (frames_dir / "timestamps.txt").read_text().split("\n")
        listed = [line.split() for line in lines if line.strip()][:15]
        frames = [str(frames_dir / name) for name, _ in listed]
        stamps = ",".join(ms for _, ms in listed)
        cmd = [reclaim, "verify", "--id", f"{out}/td3-mild.jpg", "--challenge", "left,right",
               "--timestamps", stamps, "--today", "2026-11-26", "--json", "--selfie", *frames]
        walls, decisions, loads, rss = [], [], [], []
        outcome = None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
            walls.append((time.perf_counter() - t0) * 1000)
            report = json.loads(proc.stdout)
            decisions.append(report["timings_ms"]["total"])
            loads.append(report["process_ms"]["load"])
            rss.append(int(proc.stderr.strip().splitlines()[-1]) / 1024)
            outcome = (report["decision"], report["reasons"])
        print(f"`reclaim verify`, one 1600x1200 ID photo and {len(frames)} selfie frames of 640x480, "
              f"{args.runs} runs; medians (ms), peak RSS max (MiB). Decision: {outcome[0]} {outcome[1]}\n")
        print("| whole process | decision (models prepared) | load models and decode | peak memory |")
        print("| --- | --- | --- | --- |")
        print(f"| {statistics.median(walls):.0f} | {statistics.median(decisions):.0f} | "
              f"{statistics.median(loads):.0f} | {max(rss):.0f} |")


if __name__ == "__main__":
    main()

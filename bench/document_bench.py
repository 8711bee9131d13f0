#!/usr/bin/env python3
"""Times `reclaim document` on 12-megapixel phone-size photos of synthetic documents.

    cargo build --release -p reclaim-cli -p reclaim-docgen
    python3 bench/document_bench.py [--runs 5]

Generates a passport page, an ID card (both sides) and a licence back at 4000x3000 with
`reclaim-docgen` (degradation "mild"), then runs `reclaim document` on each several times:
whole-process wall time, the in-process reading time the command reports (models already
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    default_dir = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
    ap.add_argument("--bin", default=str(default_dir))
    args = ap.parse_args()
    reclaim = str(pathlib.Path(args.bin) / "reclaim")
    docgen = str(pathlib.Path(args.bin) / "reclaim-docgen")
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([docgen, "--out", out, "--photo", str(ROOT / "tests/data/faces/ardern-1.jpg"),
                        "--face-box", "239,158,277,355", "--size", "4000x3000", "--seed", "3"],
                       check=True, capture_output=True)
        cases = [
            ("passport page (TD3), one photo", [f"{out}/td3-mild.jpg"]),
            ("ID card (TD1), front and back", [f"{out}/td1-front-mild.jpg", "--back", f"{out}/td1-mild.jpg"]),
            ("US licence back (PDF417)", [f"{out}/aamva-mild.jpg"]),
        ]
        # reclaim-docgen photographs the MRZ side; make a photo of the TD1 front too.
        subprocess.run([docgen, "--out", out + "/front", "--photo", str(ROOT / "tests/data/faces/ardern-1.jpg"),
                        "--face-box", "239,158,277,355", "--size", "4000x3000", "--seed", "3", "--front"],
                       check=True, capture_output=True)
        os.replace(f"{out}/front/td1-mild.jpg", f"{out}/td1-front-mild.jpg")
        print(f"`reclaim document` on 4000x3000 photos, {args.runs} runs each; medians (ms), peak RSS max (MiB).\n")
        print("| document | whole process | reading (models prepared) | load models | peak memory |")
        print("| --- | --- | --- | --- | --- |")
        for name, files in cases:
            walls, reads, loads, rss = [], [], [], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                proc = subprocess.run(["/usr/bin/time", "-f", "%M", reclaim, "document", *files, "--json",
                                       "--today", "2026-11-26"], capture_output=True, text=True)
                walls.append((time.perf_counter() - t0) * 1000)
                report = json.loads(proc.stdout)
                reads.append(report["process_ms"]["read"])
                loads.append(report["process_ms"]["load_models"])
                rss.append(int(proc.stderr.strip().splitlines()[-1]) / 1024)
                if report["reasons"]:
                    print(f"  ({name}: reasons {report['reasons']})")
            print(f"| {name} | {statistics.median(walls):.0f} | {statistics.median(reads):.0f} | "
                  f"{statistics.median(loads):.0f} | {max(rss):.0f} |")


if __name__ == "__main__":
    main()

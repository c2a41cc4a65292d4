#!/usr/bin/env python3
"""The whole `rollcall run`, done the way a Python project would: the baseline
for `rollcall run`, side by side, counting everything the user waits for.

Per photo (one process, onnxruntime with its default threads): OpenCV decode,
uniface's RetinaFace (MobileNet-0.25, 640x640 letterbox, confidence 0.7),
faces under 40 px dropped, uniface's 5-point alignment to 112x112, the chip
written as PNG, SFace on the chip (L2-normalised), and an annotated copy
(uniface's boxes and landmarks, long side at most 1600 px, JPEG). Then the
faces are written (metadata CSV, embeddings as .npy), scikit-learn sweeps
k over the same range rollcall does by default (KMeans n_init=10 and the
silhouette at each k), the best k is fitted, and every chip is copied into
clusters/person_<n>/. It reads the same model files rollcall fetched, so both
sides run the very same networks.

rollcall does more than this (the linkage people count, a heatmap, charts,
an HTML report, atomic writes), so the comparison leans the baseline's way.

Usage: python_pipeline.py MODELS_DIR PHOTOS OUT [--k-min 5] [--k-max 15]
OUT must not exist. Prints one JSON object with per-stage times; time the
whole process from outside (imports and model loading count too).
"""

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time

EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def photos_under(root: str) -> list[str]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(folder, f) for f in sorted(files) if os.path.splitext(f)[1].lower() in EXTENSIONS]
    return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models_dir")
    ap.add_argument("photos")
    ap.add_argument("out")
    ap.add_argument("--k-min", type=int, default=5)
    ap.add_argument("--k-max", type=int, default=15)
    a = ap.parse_args()
    if os.path.exists(a.out):
        sys.exit(f"{a.out} exists")
    started = time.perf_counter()

    cache = tempfile.mkdtemp(prefix="uniface-cache-")
    # uniface looks its weights up by name in its cache; the file rollcall
    # fetched is byte-identical to uniface's retinaface_mv1_0.25.onnx.
    shutil.copy(os.path.join(a.models_dir, "retinaface_mv1_0.25.onnx"), os.path.join(cache, "retinaface_mnet025.onnx"))
    os.environ["UNIFACE_CACHE_DIR"] = cache

    import cv2
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from uniface.constants import RetinaFaceWeights
    from uniface.detection import RetinaFace
    from uniface.draw import draw_detections
    from uniface.face_utils import face_alignment
    from uniface.recognition.base import BaseRecognizer, PreprocessConfig

    class SFace(BaseRecognizer):
        def __init__(self, path: str) -> None:
            super().__init__(model_path=path, preprocessing=PreprocessConfig(input_mean=[0.0, 0.0, 0.0], input_std=[1.0, 1.0, 1.0]))

    detector = RetinaFace(model_name=RetinaFaceWeights.MNET_025, confidence_threshold=0.7)
    recognizer = SFace(os.path.join(a.models_dir, "face_recognition_sface_2021dec_fp32.onnx"))
    loaded = time.perf_counter()

    aligned_dir = os.path.join(a.out, "aligned")
    annotated_dir = os.path.join(a.out, "annotated")
    os.makedirs(aligned_dir)
    os.makedirs(annotated_dir)
    rows, embeddings = [], []
    listed = photos_under(a.photos)
    for n, path in enumerate(listed):
        img = cv2.imread(path)
        if img is None:
            print(f"skipping {path}: unreadable", file=sys.stderr)
            continue
        stem = f"{n:04d}_{os.path.splitext(os.path.basename(path))[0]}"
        faces = detector.detect(img)
        kept = []
        for f in faces:
            x1, y1, x2, y2 = f.bbox[:4]
            if x2 - x1 < 40 or y2 - y1 < 40:
                continue
            chip, _ = face_alignment(img, np.asarray(f.landmarks), image_size=112)
            name = f"aligned_{stem}_{len(kept)}.png"
            cv2.imwrite(os.path.join(aligned_dir, name), chip)
            e = recognizer.get_embedding(chip).ravel()
            embeddings.append(e / max(np.linalg.norm(e), 1e-12))
            rows.append((name, path, *[float(v) for v in f.bbox[:4]], float(f.confidence)))
            kept.append(f)
        drawn = img.copy()
        draw_detections(image=drawn, faces=faces)
        scale = min(1.0, 1600 / max(drawn.shape[:2]))
        if scale < 1.0:
            drawn = cv2.resize(drawn, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        cv2.imwrite(os.path.join(annotated_dir, f"{stem}.jpg"), drawn)
    x = np.asarray(embeddings, dtype=np.float32)
    with open(os.path.join(a.out, "metadata.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["aligned_file", "original_file", "x1", "y1", "x2", "y2", "confidence"])
        w.writerows(rows)
    np.save(os.path.join(a.out, "embeddings.npy"), x)
    detected = time.perf_counter()

    sweep = {}
    for k in range(a.k_min, a.k_max + 1):
        if k >= len(x):
            break
        labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(x)
        sweep[k] = float(silhouette_score(x, labels))
    best = max(sweep, key=sweep.get)
    swept = time.perf_counter()

    labels = KMeans(n_clusters=best, n_init=10, random_state=0).fit_predict(x)
    for (name, *_), label in zip(rows, labels):
        folder = os.path.join(a.out, "clusters", f"person_{label + 1}")
        os.makedirs(folder, exist_ok=True)
        shutil.copy(os.path.join(aligned_dir, name), folder)
    with open(os.path.join(a.out, "clusters.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["aligned_file", "cluster"])
        w.writerows((r[0], int(label) + 1) for r, label in zip(rows, labels))
    done = time.perf_counter()

    print(json.dumps({
        "photos": len(listed),
        "faces": len(rows),
        "k": best,
        "imports_and_models_s": loaded - started,
        "detect_align_embed_annotate_s": detected - loaded,
        "k_sweep_s": swept - detected,
        "cluster_s": done - swept,
        "total_s": done - started,
    }))


if __name__ == "__main__":
    main()

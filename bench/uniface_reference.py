#!/usr/bin/env python3
"""The Python baseline rollcall is measured against, side by side.

The seed pipeline, driven from Python the way most projects do it: uniface's
RetinaFace (MobileNet-0.25, fixed 640x640 letterbox) and face alignment,
OpenCV decoding, onnxruntime with its default threads, SFace through
uniface's BaseRecognizer (RGB, 0-255), and a scikit-learn KMeans sweep over
k = 5..15 with silhouettes. It reads the same model files rollcall fetched,
so both sides run the very same networks.

Usage: uniface_reference.py MODELS_DIR PHOTO [PHOTO ...]
Prints one JSON object with per-step times.
"""

import json
import os
import shutil
import sys
import tempfile
import time


def main() -> None:
    models_dir, photos = sys.argv[1], sys.argv[2:]
    cache = tempfile.mkdtemp(prefix="uniface-cache-")
    # uniface looks its weights up by name in its cache; the file rollcall
    # fetched is byte-identical to uniface's retinaface_mv1_0.25.onnx.
    shutil.copy(os.path.join(models_dir, "retinaface_mv1_0.25.onnx"), os.path.join(cache, "retinaface_mnet025.onnx"))
    os.environ["UNIFACE_CACHE_DIR"] = cache

    import cv2
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from uniface.constants import RetinaFaceWeights
    from uniface.detection import RetinaFace
    from uniface.recognition.base import BaseRecognizer, PreprocessConfig

    class SFace(BaseRecognizer):
        def __init__(self, path: str) -> None:
            super().__init__(model_path=path, preprocessing=PreprocessConfig(input_mean=[0.0, 0.0, 0.0], input_std=[1.0, 1.0, 1.0]))

    detector = RetinaFace(model_name=RetinaFaceWeights.MNET_025, confidence_threshold=0.7)
    recognizer = SFace(os.path.join(models_dir, "face_recognition_sface_2021dec_fp32.onnx"))

    t_decode = t_detect = t_embed = 0.0
    faces = 0
    embeddings = []
    start = time.perf_counter()
    for path in photos:
        t = time.perf_counter()
        img = cv2.imread(path)
        t_decode += time.perf_counter() - t
        if img is None:
            continue
        t = time.perf_counter()
        dets = detector.detect(img)
        t_detect += time.perf_counter() - t
        t = time.perf_counter()
        for d in dets:
            x1, y1, x2, y2 = d.bbox[:4]
            if x2 - x1 < 40 or y2 - y1 < 40:
                continue
            embeddings.append(recognizer.get_normalized_embedding(img, np.asarray(d.landmarks)))
            faces += 1
        t_embed += time.perf_counter() - t
    pipeline = time.perf_counter() - start

    t = time.perf_counter()
    x = np.asarray(embeddings)
    for k in range(5, 16):
        if k >= len(x):
            break
        labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(x)
        silhouette_score(x, labels)
    sweep = time.perf_counter() - t

    print(json.dumps({
        "photos": len(photos),
        "faces": faces,
        "decode_s": t_decode,
        "detect_s": t_detect,
        "align_embed_s": t_embed,
        "pipeline_s": pipeline,
        "faces_per_s": faces / pipeline if pipeline else 0.0,
        "k_sweep_s": sweep,
        "total_s": pipeline + sweep,
    }))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""scikit-learn baseline for `rollcall bench analysis`, run side by side.

The same problem: N unit vectors of dimension D around K random unit centres
(about 0.8 cosine to their centre), KMeans with k = K and n_init starts, and
the silhouette over all points.

Usage: sklearn_reference.py [N D K N_INIT]
"""

import json
import sys
import time

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score


def main() -> None:
    n, d, k, n_init = (int(a) for a in (sys.argv[1:] or ["5000", "512", "13", "10"]))
    rng = np.random.default_rng(42)
    centers = rng.standard_normal((k, d)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    truth = np.arange(n) % k
    x = centers[truth] + (0.75 / np.sqrt(d)) * rng.standard_normal((n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)

    t = time.perf_counter()
    km = KMeans(n_clusters=k, n_init=n_init, random_state=0).fit(x)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    sil = silhouette_score(x, km.labels_)
    sil_s = time.perf_counter() - t
    print(json.dumps({"sklearn": sklearn.__version__, "kmeans_s": fit_s, "silhouette_s": sil_s,
                      "silhouette": float(sil), "ari": adjusted_rand_score(truth, km.labels_)}))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Runs two builds of `rollcall` over the shared photos with the same models,
# paths and seeds, and checks that every output file is byte-identical.
#
#   scripts/compare-outputs.sh OLD_ROLLCALL NEW_ROLLCALL [--quantize] [--numbers]
#
# For each of deepface, dlib_johns and misc_small (every photo, hard and
# group ones included): `run`, `evaluate`, `train` on the cluster folders,
# `export` and `predict`; with --quantize also `quantize` on deepface. Each
# build writes into the same paths (outputs record them), which are then
# moved aside and compared with `diff -r`. Left out, because they differ
# between two runs of one build: the exported gallery (it records when it
# was made; `predict`'s output checks what it holds), `fidelity.json`
# (it records timings) and each work folder's `.rollcall-lock` (it records
# the process id of the run that held the folder).
set -euo pipefail
old=$(realpath "$1")
new=$(realpath "$2")
quantize= numbers=
for flag in "${@:3}"; do
    case $flag in
        --quantize) quantize=--quantize ;;
        --numbers) numbers=1 ;;
        *) echo "unknown flag $flag" >&2; exit 2 ;;
    esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
faces=${ROLLCALL_FACES:-$root/../shared/data/faces}
models=${ROLLCALL_MODELS_DIR:-$root/.models}
scratch=${TMPDIR:-/tmp}/rollcall-compare
rm -rf "$scratch" && mkdir -p "$scratch"

pass() {
    local bin=$1 label=$2
    local w=$scratch/w
    rm -rf "$w" && mkdir -p "$w"
    for set in deepface dlib_johns misc_small; do
        ROLLCALL_LOG=warn "$bin" --models-dir "$models" run "$faces/$set" --out "$w/$set" >"$w/$set.run.txt"
        ROLLCALL_LOG=warn "$bin" --models-dir "$models" evaluate "$w/$set" --truth "$faces/$set" --json >"$w/$set.evaluate.json"
        ROLLCALL_LOG=warn "$bin" --models-dir "$models" train "$w/$set/clusters" --include-unnamed --out "$w/$set.model" >"$w/$set.train.txt"
        ROLLCALL_LOG=warn "$bin" --models-dir "$models" export "$w/$set.model" --out "$w/$set.rcg" >/dev/null
        ROLLCALL_LOG=warn "$bin" --models-dir "$models" predict "$faces/misc_small" --gallery "$w/$set.rcg" --out "$w/$set.predict.csv" 2>/dev/null
        rm "$w/$set.rcg"
    done
    if [ "$quantize" = "--quantize" ]; then
        ROLLCALL_LOG=warn "$bin" --models-dir "$models" quantize "$w/deepface" --out "$w/int8" >/dev/null
        rm "$w/int8/fidelity.json"
    fi
    mv "$w" "$scratch/$label"
}

echo "old: $old"
pass "$old" old
echo "new: $new"
pass "$new" new
if diff -r -x .rollcall-lock "$scratch/old" "$scratch/new"; then
    echo "identical: $(find "$scratch/new" -type f | wc -l) files in $scratch/new"
elif [ -n "$numbers" ]; then
    echo "not byte-identical; cell by cell:"
    "$root/scripts/compare-numbers.py" "$scratch/old" "$scratch/new"
else
    echo "outputs differ" >&2
    exit 1
fi

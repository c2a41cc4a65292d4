#!/usr/bin/env bash
# Proof that rollcall-device runs on aarch64 (Raspberry Pi 4/5, Jetson), on a
# machine with neither an ARM CPU nor docker:
#
#  1. installs Debian's aarch64 cross toolchain and qemu-user (about 2 GB);
#  2. cross-builds rollcall-device with Debian's rustc (rustup's toolchain
#     cannot use Debian's aarch64 std) into target/cross;
#  3. fetches ONNX Runtime's manylinux_2_28_aarch64 wheel with pip;
#  4. replays shared photos through the aarch64 binary under qemu and
#     through the x86 build, and checks that the events are the same;
#  5. with --bench, times the aarch64 build under qemu.
#
#   scripts/cross-aarch64.sh [STEP] [--profile P] [--bench]
#
# STEP is `install` (1), `build` (2) or `check` (3-5, building first if
# needed); without one, all of them. P is the cargo profile of the cross
# build: release by default; CI checks with `cross-check` (see Cargo.toml).
# .ci/run installs first, builds beside the x86 test build, and checks once
# the model cache is there (`rollcall models fetch`).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
faces=${ROLLCALL_FACES:-$root/../shared/data/faces}
out=$root/target/cross/check
target=aarch64-unknown-linux-gnu
step=all
profile=release
bench=0
while [ $# -gt 0 ]; do
    case "$1" in
        install | build | check) step=$1 ;;
        --profile) profile=$2; shift ;;
        --bench) bench=1 ;;
        *) echo "usage: scripts/cross-aarch64.sh [install|build|check] [--profile P] [--bench]" >&2; exit 2 ;;
    esac
    shift
done

log() { printf '\n-- %s\n' "$1"; }
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"

if [ $step = all ] || [ $step = install ]; then
    log "aarch64 toolchain and qemu"
    # Each check on its own line: bash gives && and || equal precedence, so one
    # long `a || b || c && d` chain skipped the install whenever libclang was
    # there already (scripts/test installs it), and CI then found no Debian rustc.
    have_libclang() { [ -f /usr/include/clang-c/Index.h ] || ls /usr/lib/llvm-*/include/clang-c/Index.h >/dev/null 2>&1; }
    need_install=0
    [ -x /usr/bin/qemu-aarch64-static ] || need_install=1
    [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] || need_install=1
    [ -d /usr/lib/rustlib/$target ] || need_install=1
    command -v aarch64-linux-gnu-gcc >/dev/null || need_install=1
    have_libclang || need_install=1
    if [ $need_install = 1 ]; then
        $sudo_cmd dpkg --add-architecture arm64
        scripts/apt-install \
            rustc-web cargo-web gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static \
            libstd-rust-web-dev:arm64 libclang-dev
    fi
fi
[ $step = install ] && exit 0

log "cross-build rollcall-device ($profile) for $target with Debian's rustc $(/usr/bin/rustc --version | cut -d' ' -f2)"
# Debian's rustc alone: not the x86 build's linting wrapper (.ci/run sets it).
env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS CARGO_TARGET_DIR="$root/target/cross" RUSTC=/usr/bin/rustc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
    BINDGEN_EXTRA_CLANG_ARGS_aarch64_unknown_linux_gnu="--sysroot=/usr/aarch64-linux-gnu" \
    /usr/bin/cargo build --profile "$profile" --locked -p rollcall-device --target $target \
    --config "target.$target.linker=\"aarch64-linux-gnu-gcc\""
arm_bin=$root/target/cross/$target/$profile/rollcall-device
file "$arm_bin" 2>/dev/null || true
[ $step = build ] && exit 0

log "x86 binaries"
# The test build makes both binaries (the CLI tests run them); after
# scripts/test this is a no-op, where `cargo build --bin ...` alone would
# build them again with another feature set.
cargo test --locked --workspace --no-run --quiet
x86_dir=$root/target/debug

log "aarch64 model cache: the same models, ONNX Runtime for aarch64"
models=$(cd "$root" && "$x86_dir/rollcall" models list | sed -n 's/^cache: //p')
arm_models=$root/target/cross/models
mkdir -p "$arm_models"
for f in "$models"/*.onnx; do ln -sf "$f" "$arm_models/"; done
if ! [ -f "$arm_models/libonnxruntime.so.1.32.0" ]; then
    tmp=$(mktemp -d)
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_aarch64 \
        --quiet --dest "$tmp" onnxruntime==1.32.0
    python3 -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); open(sys.argv[2], 'wb').write(z.read('onnxruntime/capi/libonnxruntime.so.1.32.0'))" \
        "$tmp"/onnxruntime-*.whl "$arm_models/libonnxruntime.so.1.32.0"
    rm -rf "$tmp"
fi
# (rollcall-device checks the library's sha256 against the manifest itself.)

log "a gallery and a sequence of stills from the shared photos"
rm -rf "$out" && mkdir -p "$out/people/obama" "$out/people/biden" "$out/stills"
for f in obama.jpg obama1.jpg obama2.jpg; do ln -s "$faces/misc_small/obama/$f" "$out/people/obama/$f"; done
ln -s "$faces/misc_small/biden/biden2.jpg" "$out/people/biden/biden2.jpg"
"$x86_dir/rollcall" -q train "$out/people" --out "$out/model" >/dev/null
"$x86_dir/rollcall" -q export "$out/model" --out "$out/gallery.rcg" >/dev/null
n=0
add() { for _ in $(seq "$2"); do n=$((n + 1)); ln -s "$faces/$1" "$out/stills/$(printf %03d $n).jpg"; done; }
add misc_small/obama/obama3.jpg 4
add deepface/_nonface/dlib_eagle.jpg 6
add misc_small/kit_harington/john1.jpg 4
add misc_small/_group/two_people.jpg 3

# ONNX Runtime reads /proc/cpuinfo to pick kernels; under qemu that file
# describes the x86 host and its ARM parser crashes. Show it an ARM one.
cat > "$out/cpuinfo" <<'CPU'
processor	: 0
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x0
CPU part	: 0xd08
CPU revision	: 3

processor	: 1
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x0
CPU part	: 0xd08
CPU revision	: 3
CPU
run_arm() {
    # Not -L: pointing qemu at the cross sysroot mixes two glibc builds.
    # QEMU_CPU: qemu's default CPU ("max") offers SVE and SME, which ONNX
    # Runtime then uses and qemu emulates about ten times slower than NEON
    # (38 s instead of 4 s per frame); a Cortex-A72 is also what a Pi 4 has.
    QEMU_CPU=cortex-a72 unshare -m sh -c 'mount --bind "$0" /proc/cpuinfo && exec "$@"' "$out/cpuinfo" \
        /usr/bin/qemu-aarch64-static "$arm_bin" --models-dir "$arm_models" "$@"
}

log "replay on x86 and on aarch64 (qemu)"
common=(--gallery "$out/gallery.rcg" --source "dir:$out/stills" --heartbeat-secs 0 --threads 2)
"$x86_dir/rollcall-device" "${common[@]}" >"$out/x86.jsonl"
run_arm "${common[@]}" >"$out/aarch64.jsonl"
python3 - "$out/x86.jsonl" "$out/aarch64.jsonl" <<'PY'
import json, sys
def seq(p):
    return [json.loads(l) for l in open(p) if l.strip()]
x86, arm = seq(sys.argv[1]), seq(sys.argv[2])
key = lambda e: (e["event"], e.get("label"))
print("x86:    ", [key(e) for e in x86])
print("aarch64:", [key(e) for e in arm])
assert [key(e) for e in x86] == [key(e) for e in arm], "the aarch64 build reports different events"
assert len(x86) == 8, f"expected 8 events, got {len(x86)}"
worst = max(abs(a["score"] - b["score"]) for a, b in zip(x86, arm))
print(f"same {len(x86)} events; largest score difference {worst:.4f}")
assert worst < 0.02
PY

if [ $bench = 1 ]; then
    log "aarch64 under qemu (emulated, not a Pi): per-frame latency"
    run_arm bench --gallery "$out/gallery.rcg" --photos "$faces" --frames "${FRAMES:-5}" --threads 2
fi
log "aarch64 check passed"

#!/usr/bin/env bash
# Rebuild the shipped AIConfigurator profiles (hardware_specs/profiles/*-aic-vllm) from the
# aiconfigurator-core wheel, whose systems/ folder holds AIConfigurator's measured tables
# (Parquet; the GitHub repository keeps them in Git LFS). Needs pyarrow (capplan[import]).
#   bash benchmarks/import_aic_profiles.sh [VERSION]      # default 0.12.0
set -euo pipefail
version="${1:-0.12.0}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pip download --quiet --no-deps --only-binary=:all: --dest "$work" "aiconfigurator-core==$version"
unzip -q "$work"/aiconfigurator_core-*.whl 'aiconfigurator_core/systems/*' \
    'aiconfigurator_core-*.dist-info/*' -d "$work/wheel"
systems="$work/wheel/aiconfigurator_core/systems"
cd "$(dirname "$0")/.."
for pair in h200_sxm:h200-sxm h100_sxm:h100-sxm a100_sxm:a100-sxm4-80gb l40s:l40s b200_sxm:b200; do
    capplan import-profile "$systems" --system "${pair%%:*}" --framework vllm \
        --out "hardware_specs/profiles/${pair##*:}-aic-vllm"
done

#!/usr/bin/env bash
# The wheels the GPU check needs on the bare H200 machine (Python 3.12, torch 2.11, transformers
# 5.17, torchvision 0.26, huggingface_hub 1.33, tokenizers 0.23.2 there): this project's transformers
# and bitsandbytes. They go to .whl/ (ignored by git), which a device call carries. 55 MiB together.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    -d .whl transformers==5.24.0 bitsandbytes==0.50.2
du -ch .whl/*.whl | tail -1

#!/usr/bin/env bash
# Trains the same small CNN on MNIST with Myelin and with PyTorch, one after the other on
# this machine, and prints each epoch's test accuracy and time: the real-data comparison of
# issue 4 (VGG-style and ResNet-style networks).
#
#   PYTHON=/work/venv-torch/bin/python scripts/compare_mnist.sh vgg-small 2
#   PYTHON=/work/venv-torch/bin/python scripts/compare_mnist.sh resnet20 1
set -euo pipefail
model=${1:-vgg-small}
epochs=${2:-1}
threads=${THREADS:-2}
data=${DATA:-../shared/data}
python=${PYTHON:-python3}
cd "$(dirname "$0")/.."
swift build -c release --product myelin >/dev/null
echo "== Myelin: $model, $epochs epoch(s), $threads threads"
.build/release/myelin train "$model" --dataset mnist --data "$data" --epochs "$epochs" --batch-size 64 \
    --optimizer adam --lr 1e-3 --validation-fraction 0 --threads "$threads" --output "runs/compare-$model" \
    | grep -E "parameters|Epoch|best"
echo "== PyTorch: $model, $epochs epoch(s), $threads threads"
"$python" scripts/pytorch_mnist.py --model "$model" --data "$data/mnist" --epochs "$epochs" --batch-size 64 \
    --optimizer adam --lr 1e-3 --threads "$threads"

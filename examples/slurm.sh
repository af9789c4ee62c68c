#!/usr/bin/env bash
# Runs one refinery experiment as a Slurm job array: task i of N runs `--shard i/N` into its own folder
# runs/<name>/shard-i-of-N on a shared file system. Merge when every task is done:
#
#   sbatch --array=0-7 examples/slurm.sh experiments/demo.yaml runs/demo
#   refinery status runs/demo                  # done / failed / missing per shard
#   refinery merge runs/demo --out runs/demo-merged
#
# A task that dies (preemption, node failure, OOM kill) is resumed by resubmitting the same task id:
# the store records every finished unit, so only the missing ones run again.
#SBATCH --job-name=refinery
#SBATCH --gpus-per-task=1
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --output=logs/refinery-%A_%a.out
set -euo pipefail

experiment="${1:?usage: sbatch --array=0-(N-1) examples/slurm.sh EXPERIMENT.yaml OUT_DIR}"
out="${2:?usage: sbatch --array=0-(N-1) examples/slurm.sh EXPERIMENT.yaml OUT_DIR}"
# N = size of the array; every task must agree on it, so it comes from Slurm, not from a flag
count="${SLURM_ARRAY_TASK_COUNT:?run this script as a job array (sbatch --array=0-(N-1))}"
index="${SLURM_ARRAY_TASK_ID:?run this script as a job array}"
if [ "${SLURM_ARRAY_TASK_MIN:-0}" != "0" ]; then
  echo "the array must start at 0 (--array=0-$((count - 1))), got min ${SLURM_ARRAY_TASK_MIN}" >&2
  exit 2
fi

cd "${SLURM_SUBMIT_DIR:-.}"
mkdir -p logs
# --quiet: no progress bar in the job log; the summary and the run.log in the shard folder remain
exec node bin/refinery.mjs run "$experiment" --shard "${index}/${count}" --out "$out" --quiet

#!/usr/bin/env bash
# The core install (`pip install .`, no extras) in a fresh virtual environment: the CLI and the
# Python API train a built-in task, and a text run names the extra it needs (exit 2).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src"
cp -r pyproject.toml README.md src "$tmp/src/"
rm -rf "$tmp/src/src/"*.egg-info
"${PYTHON:-python3}" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet -c constraints.txt "$tmp/src" 2>&1 | grep -v "^WARNING: Location" || true
cd "$tmp"
"$tmp/venv/bin/seqrl" --version
"$tmp/venv/bin/seqrl" train task.train_max_len=4 task.val_max_len=4 task.val_size=32 model.hidden_dim=32 \
  optim.steps=4 optim.batch_size=8 curriculum.warmup_steps=2 run.progress=false --run-dir "$tmp/run" > /dev/null
"$tmp/venv/bin/python" -c "from seqrl import Trainer, load_config, make_trainer, resume; print('python api: ok', Trainer.__name__, make_trainer.__name__, resume.__name__)"
printf 'a b\n' > "$tmp/d.src"; printf 'b a\n' > "$tmp/d.tgt"
set +e
"$tmp/venv/bin/seqrl" train task.name=text data.train="$tmp/d" data.valid="$tmp/d" --run-dir "$tmp/text" 2> "$tmp/err"
rc=$?
set -e
cat "$tmp/err"
[ "$rc" = 2 ] && grep -q 'pip install -e ".\[text\]"' "$tmp/err"
echo "core install: ok"

#!/usr/bin/env bash
# Install advexplore into a local virtual environment (.venv by default), idempotently.
#
# torch: a CPU machine gets the CPU wheel torch==2.13.0 FIRST (a plain `pip install torch`
# resolves a CUDA build of several GB); a machine whose base Python already has a torch
# (e.g. a user's CUDA build on a GPU box) gets a venv that sees it (--system-site-packages),
# and that torch is left alone. Override with ADVEXPLORE_TORCH="torch==X" or ADVEXPLORE_TORCH=skip.
#
# Usage: scripts/install.sh [EXTRAS]      e.g. scripts/install.sh dev,browser
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
EXTRAS=${1:-dev}

if [ ! -x "$VENV/bin/python" ]; then
  if "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    echo "[install] base Python already has torch $("$PYTHON" -c 'import torch; print(torch.__version__)'); reusing it (--system-site-packages)"
    "$PYTHON" -m venv --system-site-packages "$VENV"
  else
    echo "[install] creating $VENV with $("$PYTHON" --version)"
    "$PYTHON" -m venv "$VENV"
  fi
fi
PY="$VENV/bin/python"

# Skip the pip work when nothing changed since the last successful install.
stamp="$VENV/.advexplore-install-stamp"
key="$(cat pyproject.toml "$0" | "$PY" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())') $EXTRAS"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
  exit 0
fi

"$PY" -m pip install --quiet --upgrade pip
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  TORCH=${ADVEXPLORE_TORCH:-torch==2.13.0}
  if [ "$TORCH" != "skip" ]; then
    echo "[install] installing $TORCH (CPU wheel on these machines) before the package"
    "$PY" -m pip install --quiet "$TORCH"
  fi
fi
echo "[install] installing advexplore[$EXTRAS] (about 1-2 minutes on a fresh venv)"
# Pin the torch now installed (the CPU wheel, or the user's CUDA build): no extra may swap it.
constraint="$VENV/.advexplore-torch-constraint.txt"
: > "$constraint"
if "$PY" -c "import torch" >/dev/null 2>&1; then
  echo "torch==$("$PY" -c 'import torch; print(torch.__version__)')" > "$constraint"
fi
"$PY" -m pip install --quiet -c "$constraint" -e ".[$EXTRAS]"
# The python3 kernel that papermill and JupyterLab use must be this venv's.
"$PY" -m ipykernel install --prefix "$VENV" --name python3 --display-name "Python 3 (advexplore)" >/dev/null
echo "$key" > "$stamp"
echo "[install] done: $("$PY" -c 'import torch, advexplore; print("advexplore", advexplore.__version__, "torch", torch.__version__)')"

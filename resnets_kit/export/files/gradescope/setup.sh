#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu, with network).
# It installs Python @PYTHON@ (TensorFlow's wheels need 3.11 or 3.12), the pinned packages of
# requirements.txt in a virtual environment readable by every user (the grading sandbox runs as
# an unprivileged user), bubblewrap and setpriv (util-linux). Written by
# `python -m resnets_kit.export gradescope`.
set -euo pipefail
source_dir="$(cd "$(dirname "$0")" && pwd)"
venv=/opt/resnets-grader/venv

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends bubblewrap util-linux ca-certificates python3 python3-venv

python=""
for candidate in python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 11), (3, 12)))'; then
        python="$(command -v "$candidate")"
        break
    fi
done
if [ -z "$python" ]; then
    # No Python 3.11 or 3.12 in the image: uv installs one where every user can run it.
    python3 -m venv /opt/resnets-grader/uv
    /opt/resnets-grader/uv/bin/pip install --quiet --no-cache-dir "@UV@"
    export UV_PYTHON_INSTALL_DIR=/opt/resnets-grader/python
    /opt/resnets-grader/uv/bin/uv python install "@PYTHON@"
    python="$(/opt/resnets-grader/uv/bin/uv python find "@PYTHON@")"
fi

"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --no-cache-dir --upgrade pip
"$venv/bin/pip" install --quiet --no-cache-dir -r "$source_dir/requirements.txt"
chmod -R a+rX /opt/resnets-grader
"$venv/bin/python" -c "import tensorflow, keras, nbformat, psutil; print('grader environment ready: TensorFlow', tensorflow.__version__, 'Keras', keras.__version__)"

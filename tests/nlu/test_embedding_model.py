"""The one Hugging Face offline switch: set by bot.nlu.embedding_model, nowhere else."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.config import PROJECT_ROOT
from bot.nlu.embedding_model import OFFLINE


def test_importing_the_search_embedder_puts_hugging_face_offline():
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    code = ("import os, bot.search.embedder, huggingface_hub.constants as c; "
            "print(os.environ['HF_HUB_OFFLINE'], os.environ['TRANSFORMERS_OFFLINE'], "
            "c.HF_HUB_OFFLINE)")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "1", "True"]


def test_no_other_file_sets_the_switch():
    setters = []
    for top in ("bot", "actions", "connectors", "testing", "bench", "scripts", "tests"):
        for path in (PROJECT_ROOT / top).rglob("*"):
            if path.suffix in (".py", ".sh", ".yml") and path.name != "test_embedding_model.py":
                if any(name in path.read_text(encoding="utf-8") for name in OFFLINE):
                    setters.append(str(path.relative_to(PROJECT_ROOT)))
    for name in ("Makefile", "Procfile"):
        if any(var in (PROJECT_ROOT / name).read_text(encoding="utf-8") for var in OFFLINE):
            setters.append(name)
    assert setters == ["bot/nlu/embedding_model.py"]

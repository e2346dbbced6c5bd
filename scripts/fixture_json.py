"""Writing a fixture file, shared by the fixture scripts. No torch here: `make_onnx_fixtures.py check`
imports it without the reference's heavy packages."""
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_json(out_dir, name, value):
    """Writes out_dir/name atomically (temporary file, then rename) so a failed run leaves the old fixture."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1024:.0f} KiB)")

# nbconvert configuration that scripts/run-notebooks.ts passes with --config: before each cell runs,
# append "@cell <index>" to the file named by BERTLAB_PROGRESS_FILE, so that the runner can say which
# cell a long notebook is in (the training cells append their own progress lines to the same file).
import os


def _cell_starts(cell=None, cell_index=None, **kwargs):
    path = os.environ.get("BERTLAB_PROGRESS_FILE")
    if path and cell_index is not None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"@cell {cell_index}\n")


c = get_config()  # noqa: F821 (defined by traitlets when it loads this file)
c.ExecutePreprocessor.on_cell_execute = _cell_starts

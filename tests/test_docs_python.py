"""docs/python.md's examples run as written (all ```python blocks, in order, one namespace)."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "python.md"


def test_docs_python_blocks_run(capsys):
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"),
                        flags=re.S | re.M)
    assert len(blocks) == 5
    ns: dict = {"__name__": "docs_python"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/python.md python block {i + 1}", "exec"), ns)
    out = capsys.readouterr().out
    assert "refused:" in out and "PEs, tick" in out and "golden test fails:" in out
    assert "vocabulary 10000" in out and "mine:" in out


def test_public_names_resolve():
    import s2sim

    for name in s2sim.__all__:
        assert getattr(s2sim, name) is not None

"""Every Python example in the README runs (STYLE.md habit 12)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), flags=re.S)


def test_readme_has_the_two_commands() -> None:
    text = README.read_text("utf-8")
    assert "make demo" in text and "make test" in text


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_python_example_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = _python_blocks()[index]
    namespace: dict[str, object] = {"__name__": "__readme__"}
    exec(compile(code, f"README.md[python {index}]", "exec"), namespace)
    out = capsys.readouterr().out
    if "evaluation.summary()" in code:
        assert "verdict pass" in out
    st = namespace.get("st")
    if st is not None:
        st.close()  # type: ignore[attr-defined]

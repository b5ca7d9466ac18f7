import pytest

from s2sim.errors import ReportError
from s2sim.input_files import read_text


def test_reads_utf8_text(tmp_path):
    (tmp_path / "a.txt").write_text("µ ok", encoding="utf-8")
    assert read_text(tmp_path / "a.txt", "thing", ReportError) == "µ ok"


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "nope", "thing: gone"),
    (lambda d: d, "thing: is a directory, not a file"),
    (lambda d: (d / "b.bin").write_bytes(b"\xff\xfe\x00") and d / "b.bin", "thing: cannot read ("),
])
def test_a_failed_read_is_one_line_of_the_given_error(tmp_path, make, words):
    with pytest.raises(ReportError) as err:
        read_text(make(tmp_path), "thing", ReportError, missing="gone")
    assert str(err.value).startswith(words) and "\n" not in str(err.value)

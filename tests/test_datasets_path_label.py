"""The PySlowFast ``<path> <label>`` list reader (Kinetics ``path_label`` lists, the synthetic set's lists)."""

from __future__ import annotations

from pathlib import Path

import pytest

from atfr_lightning.data import AnnotationError, parse_video_list


def test_parse_list_formats(tmp_path: Path) -> None:
    absolute = tmp_path / "elsewhere" / "abs.mp4"
    list_path = tmp_path / "list.csv"
    list_path.write_bytes(
        b"\xef\xbb\xbf"  # UTF-8 byte order mark
        b"abseiling/a b c.mp4 0\r\n"  # CRLF and a name with spaces
        b"air drumming/x.mp4 12   \r\n"  # trailing spaces before CRLF
        b"\r\n"  # blank line
        b"plain.mp4\t7\n" + f"{absolute} 1".encode()  # tab separator, absolute path, no final newline
    )
    records = parse_video_list(list_path)
    assert [(r.path, r.label, r.name) for r in records] == [
        (tmp_path / "abseiling" / "a b c.mp4", 0, "abseiling/a b c.mp4"),
        (tmp_path / "air drumming" / "x.mp4", 12, "air drumming/x.mp4"),
        (tmp_path / "plain.mp4", 7, "plain.mp4"),
        (absolute, 1, str(absolute)),
    ]
    moved = parse_video_list(list_path, video_root=tmp_path / "videos")
    assert moved[0].path == tmp_path / "videos" / "abseiling" / "a b c.mp4"


@pytest.mark.parametrize("bad_line", ["just_a_path.mp4", "clip.mp4 walking", "clip.mp4 -1", "clip.mp4 2.0"])
def test_parse_list_malformed_line(tmp_path: Path, bad_line: str) -> None:
    list_path = tmp_path / "broken list.txt"
    list_path.write_text(f"ok.mp4 1\n\n{bad_line}  \r\nfine.mp4 2\n")
    with pytest.raises(AnnotationError) as raised:
        parse_video_list(list_path)
    message = str(raised.value)
    assert f"{list_path}:3:" in message  # file and 1-based line number (blank lines count)
    assert repr(f"{bad_line}  ") in message  # the offending text, trailing spaces shown
    assert "integer label" in message


def test_parse_list_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match=r"video list not found: .*nope\.txt"):
        parse_video_list(tmp_path / "nope.txt")

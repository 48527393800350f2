"""Reading physical lines (pipelines.sources.lines), shared by the DOJ and court readers."""

from __future__ import annotations

from pipelines.sources.lines import LINE_SEPARATORS, absent_separator, read_lines, split_lines

EVERY_SEPARATOR = "".join(LINE_SEPARATORS).encode()


def test_binary_data_is_split_here_with_line_ends_dropped():
    data = b"a" + EVERY_SEPARATOR + b"\r\nb\n\nc"
    assert absent_separator(data) is None
    frame, lossy = split_lines(data, "raw")
    assert frame["raw"].to_list() == ["a" + EVERY_SEPARATOR.decode(), "b", "", "c"] and not lossy


def test_only_replaced_bytes_count_as_lossy():
    written = "MU\ufffdOZ".encode()  # a replacement character written in the file itself
    assert split_lines(written + EVERY_SEPARATOR, "raw")[1] is False
    assert split_lines(b"MU\xd1OZ" + EVERY_SEPARATOR, "raw")[1] is True  # Latin-1 byte, replaced


def test_text_is_read_strictly_then_lossily():
    frame, lossy = read_lines(b"one\n\ntwo\n", "\x1f", "line", empty_is_null=True)
    assert frame["line"].to_list() == ["one", None, "two"] and not lossy
    frame, lossy = read_lines(b"MU\xd1OZ\n", "\x1f", "line", empty_is_null=False)
    assert frame["line"].to_list() == ["MU\ufffdOZ"] and lossy

"""The terminal progress bar."""
from __future__ import annotations

import io

from testbed.cli import progress


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_only_for_large_networks_on_a_terminal():
    assert progress.progress_for(200, FakeTty()) is not None
    assert progress.progress_for(10, FakeTty()) is None
    assert progress.progress_for(200, io.StringIO()) is None


def test_bar_draws_each_stage_and_ends_its_line():
    out = FakeTty()
    bar = progress.ProgressBar(out)
    bar("namespaces", 128, 200)
    bar("namespaces", 200, 200)
    bar("links", 50, 199)
    bar.close()
    text = out.getvalue()
    lines = text.split("\n")
    assert "namespaces" in lines[0] and "200/200" in lines[0]
    assert "[" + "#" * progress.WIDTH + "]" in lines[0]
    assert "links" in lines[1] and " 50/199" in lines[1]
    assert text.endswith("\n")


def test_render():
    line = progress.render("links", 50, 100, 0.5, width=10)
    assert "[#####-----]" in line and "50/100" in line and "100/s" in line

"""nbval settings for the lessons: compare what a lesson prints, not how a machine rounds it.

HTML and JavaScript (widget and progress-bar renderings) and stderr (warnings, progress bars)
differ between runs without the lesson being wrong, so they are left out of the comparison.
Plain-text outputs are still compared, after the substitutions in tests/nbval_sanitize.cfg.

A printed decimal may differ from the committed one by one unit in its last digit and nothing
more (pytest's doctest ``NUMBER`` option, applied to notebooks): ``-0.0753`` against ``-0.0752``,
or ``-0.0000`` against ``0.0000``. A CPU's own kernels (MKL picks them by CPU, ATen by its
vector width) change a float's last bits, and a value that sits on a rounding edge then prints
one digit apart; a lesson that computes something else is off by more and still fails. Whole
numbers (counts, ids, sizes) must match exactly.
"""

from __future__ import annotations

import re

from nbval.plugin import IPyNbCell, IPyNbFile, transform_streams_for_comparison

# A decimal with digits after its point, with an optional exponent: 0.0753, -3.1e+07, 12.5.
DECIMAL = re.compile(r"[-+]?\d+\.(\d+)(?:[eE]([-+]?\d+))?")


def same_up_to_last_digit(reference: str, got: str) -> bool:
    """Whether ``got`` is ``reference`` but for decimals one unit apart in their last digit.

    The text between numbers must agree once whitespace is taken out (a minus sign shifts
    torch's columns); each decimal must have as many digits as the reference's.
    """
    ref_parts, got_parts = DECIMAL.split(reference), DECIMAL.split(got)
    ref_numbers, got_numbers = DECIMAL.finditer(reference), DECIMAL.finditer(got)
    if len(ref_parts) != len(got_parts):
        return False
    texts = zip(ref_parts[:: DECIMAL.groups + 1], got_parts[:: DECIMAL.groups + 1], strict=True)
    if any(re.sub(r"\s+", "", a) != re.sub(r"\s+", "", b) for a, b in texts):
        return False
    for ref, value in zip(ref_numbers, got_numbers, strict=True):
        digits, exponent = len(ref.group(1)), int(ref.group(2) or 0)
        if len(value.group(1)) != digits or int(value.group(2) or 0) != exponent:
            return False
        unit = 10.0 ** (exponent - digits)
        if abs(float(ref.group()) - float(value.group())) > 1.001 * unit:
            return False
    return True


def _compared(cell: IPyNbCell, outputs: list) -> list[tuple[str, object]]:
    """The (key, sanitized value) pairs nbval compares, in the order the cell produced them."""
    skip = cell.parent.skip_compare
    pairs = []
    for output in transform_streams_for_comparison(outputs):
        for key, value in output.items():
            if key in skip:
                continue
            items = value.items() if key == "data" else [(key, value)]
            pairs += [(k, cell.sanitize(v)) for k, v in items if k not in skip]
    return pairs


_original_init = IPyNbFile.__init__
_original_compare = IPyNbCell.compare_outputs


def _init(self, *args, **kwargs):
    _original_init(self, *args, **kwargs)
    self.skip_compare = (*self.skip_compare, "text/html", "application/javascript", "stderr")


def _compare_outputs(self, test, ref, skip_compare=None):
    if _original_compare(self, test, ref, skip_compare):
        return True
    got, reference = _compared(self, test), _compared(self, ref)
    if len(got) == len(reference) and all(
        g_key == r_key
        and (g == r or (isinstance(r, str) and isinstance(g, str) and same_up_to_last_digit(r, g)))
        for (g_key, g), (r_key, r) in zip(got, reference, strict=True)
    ):
        self.comparison_traceback = []
        return True
    return False


IPyNbFile.__init__ = _init
IPyNbCell.compare_outputs = _compare_outputs

"""nbval settings for the lessons: compare what a lesson prints, not how it is rendered.

HTML and JavaScript (widget and progress-bar renderings) and stderr (warnings, progress bars)
differ between runs without the lesson being wrong, so they are left out of the comparison.
Plain-text outputs are still compared, after the substitutions in tests/nbval_sanitize.cfg.
"""

from nbval.plugin import IPyNbFile

_original_init = IPyNbFile.__init__


def _init(self, *args, **kwargs):
    _original_init(self, *args, **kwargs)
    self.skip_compare = (*self.skip_compare, "text/html", "application/javascript", "stderr")


IPyNbFile.__init__ = _init

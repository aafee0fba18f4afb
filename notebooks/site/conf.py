"""Sphinx settings for the course's static site (built by notebooks/site/build.py, `make site`).

MyST-NB renders the committed notebooks as they are: execution is off, so building the site
needs neither a kernel nor a network. Settings that cost time and give a reader nothing
(general index, copies of the sources) are off, to keep the build well under a minute in CI.
"""

project = "llmlab"
author = "the llmlab course"
copyright = "the llmlab authors, MIT licence"
extensions = ["myst_nb"]

nb_execution_mode = "off"  # the notebooks were executed when they were built; never again here
nb_merge_streams = True  # a cell's printed lines as one block, as JupyterLab shows them
myst_enable_extensions = ["dollarmath"]

html_theme = "alabaster"
html_title = "llmlab: an LLM built end to end on a laptop CPU"
html_theme_options = {
    "description": "A notebook course: every lesson executed, with its outputs and figures.",
    "fixed_sidebar": True,  # the lessons stay in view while a long page scrolls
    "show_relbars": True,  # previous / next lesson links above and below every page
    "page_width": "1200px",
    "sidebar_width": "260px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html"]}
html_copy_source = False
html_show_sourcelink = False
html_use_index = False
html_domain_indices = False

"""Tooling around the notebooks: the `advexplore` command line (cli), the headless runner
(run_notebooks), parameter parsing (params), sweeps (sweep) and the Voilà teaching server (teach).
Nothing here computes science: it runs the notebooks, which call the library."""

"""Browser tooling: finding or installing a headless Chromium and checking the error browser in JupyterLab."""

"""The project's own checking tools, outside the library: a headless Chromium found or installed (chromium), and
notebook 10's error browser checked in JupyterLab in that browser (browser_check). `make chromium`, `make browser-check`
and the real-browser tests run them; nothing in quarbert_lib imports them."""

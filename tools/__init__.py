"""The project's own tools, outside the library: a headless Chromium found or installed (chromium), notebook 10's
error browser checked in JupyterLab in that browser (browser_check), and raw training steps side by side against one
process (side_by_side, docs/performance.md). `make chromium`, `make browser-check` and the real-browser tests run the
first two; nothing in quarbert_lib imports them."""

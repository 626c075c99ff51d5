"""`make bench`: every benchmark script, one after another, each printing its own table."""

import importlib
import shutil
import sys

SCRIPTS = ["bench_engine", "bench_tensor", "bench_train", "bench_api", "bench_browser"]

for name in SCRIPTS:
    if name == "bench_browser" and not shutil.which("chromium"):
        print("\n## bench_browser skipped: /usr/bin/chromium is not installed")
        continue
    try:
        mod = importlib.import_module(f"benchmarks.{name}")
    except ModuleNotFoundError as e:
        print(f"\n## {name} skipped: {e}")
        continue
    mod.main()
    sys.stdout.flush()

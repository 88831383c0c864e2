"""Child process: import the synthetic package, plain or under cleanup_trace; print JSON.

usage: _child_import.py MODE PKG_PARENT PACKAGE     MODE: plain | ours
Times ``import PACKAGE`` only (the tool's own import and Recorder start are apart).
"""
import json
import sys
import time


def main():
    mode, parent, package = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.path.insert(0, parent)
    start_s = 0.0
    recorder = None
    if mode == "ours":
        from cleanup_trace import Recorder

        t0 = time.perf_counter()
        recorder = Recorder()
        recorder.start()
        start_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    module = __import__(package)
    import_s = time.perf_counter() - t0
    if recorder is not None:
        recorder.stop()
    print(json.dumps({"mode": mode, "import_s": import_s, "recorder_start_s": start_s,
                      "modules": sum(1 for name in sys.modules if name == package or name.startswith(package + ".")),
                      "probe": module.__name__}))


if __name__ == "__main__":
    main()

"""Child process: run the call-heavy workload under one tool; print one JSON line.

usage: _child_calls.py TOOL APP_DIR STEPS WARM_ROUNDS
TOOL: none | setprofile | monkeytype | pytest-cleanup | ours
Times (perf_counter): ``warm_s`` for the first calls (budgets filling), ``steady_s`` for
the measured loop (budgets full), ``exit_s`` for the tool's stop (writing files).
Memory: peak RSS of the whole process (``ru_maxrss``) and RSS right before the workload.
"""
import gc
import json
import resource
import sys
import time


def rss_kb(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def main():
    tool, app_dir, steps, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    sys.path.insert(0, app_dir)
    context = None
    if tool == "ours":
        from cleanup_trace import Recorder

        context = Recorder()
        context.start()
        import bench_app  # imported inside: the hook rewrites it
    elif tool == "pytest-cleanup":
        from pytest_cleanup import Recorder

        import bench_app  # imported before: the original patches loaded modules

        context = Recorder()
        context.enter()
    elif tool == "monkeytype":
        import monkeytype

        import bench_app

        context = monkeytype.trace()
        context.__enter__()
    elif tool == "setprofile":
        import bench_app

        def callback(frame, event, arg):
            return None

        sys.setprofile(callback)
    elif tool == "none":
        import bench_app
    else:
        raise SystemExit(f"unknown tool {tool}")
    gc.collect()
    start_rss = rss_kb("VmRSS:")
    try:  # reset the peak (VmHWM) so that set-up and imports do not hide the workload's
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass
    started = time.perf_counter()
    bench_app.warm(rounds)
    warmed = time.perf_counter()
    bench_app.steady(steps)
    done = time.perf_counter()
    if tool == "setprofile":
        sys.setprofile(None)
    elif tool == "ours":
        context.stop()
    elif tool == "pytest-cleanup":
        context.exit()
    elif tool == "monkeytype":
        context.__exit__(None, None, None)
    exited = time.perf_counter()
    print(json.dumps({
        "tool": tool,
        "warm_s": warmed - started,
        "warm_calls": rounds * (bench_app.CALLS_PER_STEP + 1) + 1,
        "steady_s": done - warmed,
        "steady_calls": steps * bench_app.CALLS_PER_STEP + 2,
        "exit_s": exited - done,
        "start_rss_kb": start_rss,
        "peak_rss_kb": rss_kb("VmHWM:") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


if __name__ == "__main__":
    main()

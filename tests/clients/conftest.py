"""The tool x upstream table printed at the end of the real-client suite.

Each cell shows one mark per scenario, in the order of SCENARIOS in
test_real_clients.py: + passed, x failed, - skipped, . not run."""

import pytest

RESULTS = {}  # (tool, upstream, scenario) -> ("pass" | "fail" | "skip", reason)
MARKS = {"pass": "+", "fail": "x", "skip": "-"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    callspec = getattr(item, "callspec", None)
    if callspec is None or "scenario" not in callspec.params:
        return
    key = (callspec.params["tool"], callspec.params["upstream"], callspec.params["scenario"])
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            RESULTS[key] = ("skip", reason.removeprefix("Skipped: "))
        elif report.failed:
            RESULTS[key] = ("fail", "")
        else:
            RESULTS[key] = ("pass", "")
    elif report.when == "teardown" and report.failed and key in RESULTS:
        RESULTS[key] = ("fail", "teardown")


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    import test_real_clients as suite

    write = terminalreporter.write_line
    tools = [tool for tool in suite.TOOLS if any(key[0] == tool for key in RESULTS)]
    upstreams = suite.UPSTREAMS
    width = max(len(tool) for tool in tools) + 2
    cell = len(suite.SCENARIOS) + 7
    terminalreporter.section("real coding tools x upstream kind")
    write("marks per cell, in order: " + " ".join(suite.SCENARIOS) + "   (+ pass, x fail, - skip, . not run)")
    write("tool".ljust(width) + "".join(upstream.ljust(cell) for upstream in upstreams))
    for tool in tools:
        row = tool.ljust(width)
        for upstream in upstreams:
            states = [RESULTS.get((tool, upstream, scenario), (None, ""))[0] for scenario in suite.SCENARIOS]
            marks = "".join(MARKS.get(state, ".") for state in states)
            if "fail" in states:
                verdict = "FAIL"
            elif "pass" in states:
                verdict = "pass"
            elif "skip" in states:
                verdict = "skip"
            else:
                verdict = ""
            row += f"{marks} {verdict}".ljust(cell)
        write(row)
    reasons = {}
    for (tool, upstream, scenario), (state, reason) in RESULTS.items():
        if state == "skip":
            reasons.setdefault((tool, scenario, reason), []).append(upstream)
    if reasons:
        write("skipped:")
        for (tool, scenario, reason), where in sorted(reasons.items()):
            shown = "all upstreams" if len(where) == len(upstreams) else ", ".join(where)
            write(f"  {tool} {scenario} ({shown}): {reason}")

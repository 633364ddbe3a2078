"""``dispatch-console selftest [--json]``: can this workstation run the console?

Police IT must be able to tell in a minute whether an installation works. Each check
says pass, fail or skipped with a fix hint; the exit code is non-zero if any failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from dispatch_console import __version__

from .checks import CheckResult, all_passed, as_json, as_text, skipped
from .district_checks import check_district_api, check_event_stream, check_gateway_stream
from .local_checks import (
    QT_PROBE_ARG,
    check_configuration,
    check_keyring,
    check_libvlc,
    check_qt_platform,
    probe_qt,
)


def _timed(check: Callable[[], CheckResult]) -> CheckResult:
    start = time.monotonic()
    result = check()
    elapsed = int((time.monotonic() - start) * 1000)
    return CheckResult(result.name, result.status, result.detail, result.hint, elapsed)


def run_checks() -> list[CheckResult]:
    """Every check, in the order IT would fix things."""
    config, settings = check_configuration()
    results = [config]
    results += [_timed(check_libvlc), _timed(check_qt_platform), _timed(check_keyring)]
    if settings is None:
        why = "skipped: the configuration is invalid (see above)"
        results += [
            skipped("district-api", why),
            skipped("event-stream", why),
            skipped("gateway-stream", why),
        ]
        return results
    results.append(_timed(lambda: check_district_api(settings)))
    results.append(_timed(lambda: check_event_stream(settings)))
    results.append(_timed(lambda: check_gateway_stream(settings)))
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dispatch-console selftest",
        description="Check that this workstation can run the console: configuration, libVLC, "
        "Qt, keyring, the district API (TLS, clock), its event stream and video.",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(QT_PROBE_ARG, action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe_qt:
        return probe_qt()
    results = run_checks()
    output = as_json(results, __version__) if args.json else as_text(results, __version__)
    print(output, flush=True)
    sys.stdout.flush()
    return 0 if all_passed(results) else 1

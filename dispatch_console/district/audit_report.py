"""The per-emergency report a district hands to its board: one self-contained HTML page.

Who declared what and why, who asked for access and who granted it (scope, duration,
break-glass and its review), then every viewing session under that emergency: who,
from which agency and workstation, which camera, when, for how long and why it ended.
It closes with the findings about those sessions and the audit log's state when the
report was made (verified or not, and the head hash), so a reader can tell whether the
trail behind it was intact. Everything from the database is escaped: names and threat
bases were typed by people.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from dispatch_console import __version__

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; margin-top: 0.5em; }
th, td { border: 1px solid #bbb; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
.ok { color: #0a5d0a; font-weight: bold; }
.bad { color: #a00000; font-weight: bold; }
.muted { color: #555; }
code { font-size: 0.9em; word-break: break-all; }
"""


def _cell(value: Any) -> str:
    return "" if value is None else escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _duration(ms: Any) -> str:
    if ms is None:
        return "still open"
    seconds = int(ms) // 1000
    return f"{seconds // 60} min {seconds % 60:02d} s"


def _scope(grant: Mapping[str, Any]) -> str:
    cameras = json.loads(grant.get("cameras") or "[]")
    buildings = json.loads(grant.get("buildings") or "[]")
    if cameras:
        return "cameras: " + ", ".join(cameras)
    if buildings:
        return "buildings: " + ", ".join(buildings)
    return "whole school"


def emergency_report(
    *,
    emergency: Mapping[str, Any],
    school_name: str,
    requests: Sequence[Mapping[str, Any]],
    grants: Sequence[Mapping[str, Any]],
    sessions: Sequence[Mapping[str, Any]],
    findings: Sequence[Mapping[str, Any]],
    verified: bool,
    verify_problem: str | None,
    head_seq: int | None,
    head_hash: str | None,
    generated_at: str,
    generated_by: str,
) -> str:
    title = f"Camera access during emergency {emergency['id']} at {school_name}"
    agencies = sorted({str(s["agency"]) for s in sessions})
    viewers = sorted({str(s["user_name"]) for s in sessions})
    cameras = sorted({str(s["camera_name"]) for s in sessions})
    trail = (
        f'<span class="ok">Verified</span>: the audit log\'s hash chain holds and the session '
        f"records match it (head record {_cell(head_seq)}, hash <code>{_cell(head_hash)}</code>)."
        if verified
        else f'<span class="bad">NOT verified</span>: {_cell(verify_problem)}'
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">Generated {escape(generated_at)} by {escape(generated_by)} with '
        f"Dispatch Console {escape(__version__)}. Times are UTC.</p>",
        "<h2>The emergency</h2>",
        _table(
            ("Type", "Threat basis", "Declared by", "Declared at", "Ended at"),
            [
                (
                    emergency["type"],
                    emergency["threat_basis"],
                    emergency["declared_by"],
                    emergency["declared_at"],
                    emergency["ended_at"] or "not ended",
                )
            ],
            "",
        ),
        "<h2>Summary</h2>",
        f"<p>{len(sessions)} viewing session(s) by {len(viewers)} person(s) from "
        f"{len(agencies)} agenc{'y' if len(agencies) == 1 else 'ies'} "
        f"({_cell(', '.join(agencies)) or 'none'}) on {len(cameras)} camera(s).</p>",
        "<h2>Access requests</h2>",
        _table(
            ("Agency", "Requested by", "Requested at", "Status", "Decided by", "Decided at"),
            [
                (
                    r["agency"],
                    r["requested_by"],
                    r["requested_at"],
                    r["status"],
                    r["decided_by"],
                    r["decided_at"],
                )
                for r in requests
            ],
            "No access was requested.",
        ),
        "<h2>Grants</h2>",
        _table(
            (
                "Grant",
                "Agency",
                "Scope",
                "Granted at",
                "Expires at",
                "Approved by",
                "Break-glass",
                "Revoked at",
                "Review",
            ),
            [
                (
                    g["id"],
                    g["agency"],
                    _scope(g),
                    g["granted_at"],
                    g["expires_at"],
                    g["approved_by"],
                    "yes" if g["break_glass"] else "no",
                    g["revoked_at"],
                    (
                        f"by {g['reviewed_by']} at {g['reviewed_at']}: {g['review_note']}"
                        if g.get("reviewed_at")
                        else ("due" if g["needs_review"] else "")
                    ),
                )
                for g in grants
            ],
            "No access was granted.",
        ),
        "<h2>Viewing sessions</h2>",
        _table(
            (
                "Viewer",
                "Agency",
                "Workstation",
                "Camera",
                "Where",
                "Started",
                "Ended",
                "Duration",
                "Why it ended",
                "Picture gaps",
                "Grant",
                "Threat basis",
            ),
            [
                (
                    s["user_name"],
                    s["agency"],
                    s["workstation_id"],
                    s["camera_name"],
                    f"{s['building_name']}, {s['floor_name']}",
                    s["started_at"],
                    s["ended_at"],
                    _duration(s["duration_ms"]),
                    s["end_reason"],
                    s.get("picture_gaps", "none"),
                    s["grant_id"],
                    s["threat_basis"],
                )
                for s in sessions
            ],
            "Nobody viewed a camera under this emergency.",
        ),
        "<h2>Findings about these sessions</h2>",
        _table(
            ("Found at", "Kind", "Detail"),
            [(f["at"], f["kind"], f["detail"]) for f in findings],
            "None.",
        ),
        "<h2>The audit trail behind this report</h2>",
        f"<p>{trail}</p>",
        "</body></html>",
    ]
    return "\n".join(parts)

"""The outcomes of a run, as a person reads them and as programs do (JSON, JUnit XML).

The text names each requirement with its docs/protocol.md section; a failure adds what
was expected, what came, and the frames exchanged (length, first bytes in hex, decoded).
JUnit XML is what classroom CI systems (GitHub Classroom, GitLab, Jenkins) already show.
"""

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable
from typing import Any

from chatroom.conformance.requirements import LEVELS, Outcome

MOST_FRAMES = 40
"""Frames shown for one failure: the last ones, which are where it went wrong."""


def heading(level: int) -> str:
    return f"Level {level}: {LEVELS.get(level, '')}"


def outcome_lines(outcome: Outcome) -> list[str]:
    """One line for a met requirement; for an unmet one, also what went wrong."""
    each = outcome.requirement
    mark = "pass" if outcome.met else "FAIL"
    lines = [f"  {mark}  {each.label}: {each.says} ({each.section})"]
    if not outcome.met:
        lines += [f"        expected: {outcome.expected}", f"        got:      {outcome.got}"]
        frames = frames_shown(outcome)
        if frames:
            lines.append("        frames:")
            lines += [f"          {frame}" for frame in frames]
    return lines


def frames_shown(outcome: Outcome) -> list[str]:
    frames = outcome.frames
    if len(frames) <= MOST_FRAMES:
        return frames
    return [f"({len(frames) - MOST_FRAMES} earlier frames left out)", *frames[-MOST_FRAMES:]]


def summary(outcomes: list[Outcome], words: str = "requirements met") -> str:
    """`N/M requirements met`: the line a grading script looks for."""
    return f"{sum(outcome.met for outcome in outcomes)}/{len(outcomes)} {words}"


def as_json(target: str, outcomes: Iterable[Outcome]) -> str:
    outcomes = list(outcomes)
    report: dict[str, Any] = {
        "target": target,
        "met": sum(outcome.met for outcome in outcomes),
        "total": len(outcomes),
        "requirements": [
            {
                "number": outcome.requirement.number,
                "key": outcome.requirement.key,
                "level": outcome.requirement.level,
                "section": outcome.requirement.section,
                "says": outcome.requirement.says,
                "met": outcome.met,
                "seconds": round(outcome.seconds, 3),
                **({} if outcome.met else {
                    "expected": outcome.expected, "got": outcome.got, "frames": outcome.frames,
                }),
            }
            for outcome in outcomes
        ],
    }  # fmt: skip
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def as_junit(
    target: str, outcomes: Iterable[Outcome], suite: Callable[[int], str] = heading
) -> str:
    """A testsuite per level (named by `suite`), a testcase per requirement."""
    outcomes = list(outcomes)
    suites = ElementTree.Element("testsuites", name=f"chatroom-conformance {target}")
    suites.set("tests", str(len(outcomes)))
    suites.set("failures", str(sum(not outcome.met for outcome in outcomes)))
    for level in sorted({outcome.requirement.level for outcome in outcomes}):
        mine = [outcome for outcome in outcomes if outcome.requirement.level == level]
        tests = ElementTree.SubElement(suites, "testsuite", name=suite(level))
        tests.set("tests", str(len(mine)))
        tests.set("failures", str(sum(not outcome.met for outcome in mine)))
        tests.set("time", f"{sum(outcome.seconds for outcome in mine):.3f}")
        for outcome in mine:
            each = outcome.requirement
            case = ElementTree.SubElement(tests, "testcase", classname=f"level{level}")
            case.set("name", f"{each.label}: {each.says} ({each.section})")
            case.set("time", f"{outcome.seconds:.3f}")
            if not outcome.met:
                failure = ElementTree.SubElement(case, "failure", type="unmet")
                failure.set("message", f"expected {outcome.expected}; got {outcome.got}")
                failure.text = "\n".join(frames_shown(outcome))
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"

#!/usr/bin/env python3
"""Reads a Boost.Test XML report; prints failed/skipped test cases and the final 'N passed, M failed' line."""
import sys
import xml.etree.ElementTree as ET

report, runner_rc = sys.argv[1], int(sys.argv[2])
root = ET.parse(report).getroot()
passed, failed, skipped = 0, [], []


def walk(node, path):
    for child in node:
        name = path + "/" + child.get("name", "") if path else child.get("name", "")
        if child.tag == "TestSuite":
            walk(child, name)
        elif child.tag == "TestCase":
            result = child.get("result")
            if child.get("skipped") == "yes" or result == "skipped":
                skipped.append(name)
            elif result == "passed":
                global passed
                passed += 1
            else:
                failed.append(name)


walk(root, "")
for name in skipped:
    print(f"skipped: {name}")
for name in failed:
    print(f"FAILED: {name}")
if runner_rc != 0 and not failed:
    failed.append(f"test runner exit status {runner_rc}")
line = f"{passed} passed, {len(failed)} failed"
if skipped:
    line += f", {len(skipped)} skipped"
print(line)
sys.exit(1 if failed else 0)

"""Compares a JUnit XML report of the reference suite with the committed
expectations (tests/reference/expectations.txt).

Expectations: one line per test that cannot pass against cportalocker,
`<node id>  # <category>: <reason>`; every other collected test must pass.
A listed test that passes, an unlisted one that fails or is skipped, or a
listed one that was not collected fails the comparison. Prints a summary
per module, the listed tests per category and `reftests: N passed, N
failed, N skipped`.

usage: compare.py REPORT.xml EXPECTATIONS.txt
"""
import collections
import sys
import xml.etree.ElementTree as ET


def load_expectations(path):
    expected = {}
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            node, sep, reason = line.partition('  # ')
            if not sep or not reason.strip():
                sys.exit(f'{path}:{n}: "{line}" has no "  # reason"')
            expected[node.strip()] = reason.strip()
    return expected


def node_id(case):
    module = case.get('classname', '')
    if not module:
        # A module that failed to import: pytest names it in `name`.
        parts = case.get('name', '').split('.')
        return '/'.join(parts) + '.py', parts[-1]
    parts = module.split('.')
    # classname "portalocker_tests.test_x.TestY" -> file + class
    path = []
    while parts and not parts[0][:1].isupper():
        path.append(parts.pop(0))
    node = '/'.join(path) + '.py'
    return '::'.join([node, *parts, case.get('name', '')]), path[-1] if path else '?'


def main(report, expectations_path):
    expected = load_expectations(expectations_path)
    outcome = {}
    modules = collections.defaultdict(collections.Counter)
    for case in ET.parse(report).iter('testcase'):
        node, module = node_id(case)
        if case.find('skipped') is not None:
            state = 'skipped'
        elif case.find('failure') is not None or case.find('error') is not None:
            state = 'failed'
        else:
            state = 'passed'
        outcome[node] = state
        modules[module][state] += 1
    problems = []
    for node, state in sorted(outcome.items()):
        if state == 'failed' and node not in expected:
            problems.append(f'unexpected failure: {node}')
        if state == 'passed' and node in expected:
            problems.append(f'passes but is listed ({expected[node]}): {node}')
        if state == 'skipped' and node not in expected:
            problems.append(f'skipped (a skip is not a pass): {node}')
    for node in sorted(set(expected) - set(outcome)):
        problems.append(f'listed but not collected: {node}')
    for module in sorted(modules):
        c = modules[module]
        print(f'  {module}: {c["passed"]} passed, {c["failed"]} failed, '
              f'{c["skipped"]} skipped')
    categories = collections.Counter(
        reason.partition(':')[0] for reason in expected.values())
    print('  not applicable: ' + ', '.join(
        f'{name} {count}' for name, count in categories.most_common()))
    passed = sum(1 for s in outcome.values() if s == 'passed')
    skipped = sum(1 for s in outcome.values() if s == 'skipped')
    print(f'reftests: {passed} passed, {len(outcome) - passed - skipped} failed, '
          f'{skipped} skipped ({len(expected)} listed as not applicable)')
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))

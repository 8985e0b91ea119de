"""Conformance agent for Python: one process, JSON lines on stdin/stdout.

    python agent_python.py --impl cportalocker   # our binding (PYTHONPATH=build/python)
    python agent_python.py --impl portalocker    # the reference from PyPI

Both packages expose the same public API, so one agent serves both; it is
imported as ``portalocker`` and used exactly as a user of that package
would use it. The lock mechanism is chosen the reference's way for both,
with the module-level ``portalocker.portalocker.LOCKER`` (``fcntl.flock`` or
``fcntl.lockf``) around the call: cportalocker maps it to the C core's
mechanism (see tests/conformance/README.md for the protocol).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import traceback
import typing

parser = argparse.ArgumentParser()
parser.add_argument('--impl', choices=['cportalocker', 'portalocker'], required=True)
ARGS = parser.parse_args()

if ARGS.impl == 'cportalocker':
    import cportalocker as portalocker
else:
    import portalocker  # type: ignore[no-redef]

# Most specific first: the first canonical name found in the exception's
# class hierarchy is the answer (tests/conformance/README.md, "Errors").
CANONICAL = [
    ('AlreadyLocked', 'AlreadyLocked'),
    ('LockLostError', 'LockLost'),
    ('NotHeld', 'NotHeld'),
    ('InvalidArgument', 'InvalidArgument'),
    ('InvalidState', 'InvalidState'),
    ('Unsupported', 'Unsupported'),
    ('FileToLarge', 'FileToLarge'),
    ('ConnectionError', 'ConnectionError'),
    ('LockException', 'LockException'),
    ('FileExistsError', 'FileExists'),
    ('OSError', 'OSError'),
]


def canonical(exc: BaseException) -> str:
    names = {cls.__name__ for cls in type(exc).__mro__}
    for name, canon in CANONICAL:
        if name in names:
            return canon
    return 'Other:' + type(exc).__name__


class NotExposed(Exception):
    """The binding has no public API for what the command asks."""


def send(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


@contextlib.contextmanager
def locker(mechanism: str | None):
    """Select the lock primitive for one call, as a user of the reference
    does (cportalocker reads LOCKER the same way)."""
    if mechanism is None:
        yield
        return
    if mechanism not in ('flock', 'posix'):
        raise NotExposed(f'LOCKER has no value for the {mechanism!r} mechanism in the reference')
    import fcntl

    module = portalocker.portalocker
    saved = module.LOCKER
    module.LOCKER = fcntl.flock if mechanism == 'flock' else fcntl.lockf
    try:
        yield
    finally:
        module.LOCKER = saved


class Handle:
    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.type = spec['type']
        self.mechanism = spec.get('mechanism')
        flags = portalocker.LockFlags.SHARED if spec.get('shared') else portalocker.LockFlags.EXCLUSIVE
        if self.type != 'RedisLock' and not spec.get('blocking'):
            flags |= portalocker.LockFlags.NON_BLOCKING
        t = self.type
        self.file = None
        if t in ('Lock', 'RLock'):
            self.obj = getattr(portalocker, t)(spec['path'], mode=spec.get('mode', 'a'), flags=flags)
        elif t in ('TemporaryFileLock', 'PidFileLock'):
            self.obj = getattr(portalocker, t)(spec['path'], flags=flags)
        elif t == 'BoundedSemaphore':
            self.obj = portalocker.NamedBoundedSemaphore(
                spec['maximum'], name=spec['name'], directory=spec['directory'])
        elif t == 'RedisLock':
            extra = {k: spec[k] for k in ('unavailable_timeout',) if k in spec}
            self.obj = portalocker.RedisLock(
                spec['channel'], flags=flags,
                redis_kwargs={'host': spec['host'], 'port': spec['port']},
                fencing=bool(spec.get('fencing')),
                # a loss is an answer (ensure_held), not a KeyboardInterrupt
                interrupt_on_lost=False, **extra)
        else:
            raise NotExposed(f'unknown lock type {t}')

    def acquire(self, args: dict) -> dict:
        kwargs = {k: args[k] for k in ('timeout', 'check_interval', 'fail_when_locked') if k in args}
        with locker(self.mechanism):
            result = self.obj.acquire(**kwargs)
        out: dict = {}
        if self.type != 'RedisLock':
            self.file = result
        else:
            out['holder_id'] = self.obj.holder_id
            out['fence_token'] = self.obj.fence_token
        if self.type == 'BoundedSemaphore':
            if result is None:
                # The reference returns nothing when no slot freed up and
                # fail_when_locked is off: that is "already locked".
                return {'error': 'AlreadyLocked', 'message': 'acquire returned None'}
            names = [str(p) for p in self.obj.get_filenames()]
            out['slot'] = names.index(str(result.filename))
        return out

    def release(self) -> None:
        with locker(self.mechanism):
            self.obj.release()

    def redis(self) -> typing.Any:
        if self.type != 'RedisLock':
            raise NotExposed(f'{self.type} has no probe or ensure_held')
        return self.obj

    def probe(self, args: dict) -> dict:
        holders = self.redis().probe(**{k: args[k] for k in ('timeout',) if k in args})
        return {'holders': [{'holder_id': h.holder_id, 'mode': str(h.mode.value)}
                            for h in holders]}


def increment(h: Handle, cmd: dict) -> dict:
    counter = cmd['counter']
    for _ in range(cmd['n']):
        h.acquire(cmd.get('args', {}))
        try:
            with open(counter, 'a+') as f:
                f.seek(0)
                text = f.read().strip()
                value = int(text) if text else 0
                f.seek(0)
                f.truncate()
                f.write(str(value + 1))
        finally:
            h.release()
    return {}


def main() -> None:
    handles: dict[str, Handle] = {}
    stdin = sys.stdin
    while True:
        line = stdin.readline()
        if not line:
            break
        cmd = json.loads(line)
        op = cmd['op']
        reply: dict = {'id': cmd.get('id')}
        start = time.monotonic()
        try:
            if op == 'hello':
                reply['pid'] = os.getpid()
                reply['impl'] = ARGS.impl
                reply['version'] = portalocker.__version__
            elif op == 'exit':
                send(reply | {'ok': True})
                break
            elif op in ('acquire', 'release', 'read_pid', 'increment', 'write',
                        'probe', 'ensure_held'):
                name = cmd['handle']
                h = handles.get(name)
                if h is None:
                    h = handles[name] = Handle(cmd['lock'])
                if op == 'acquire':
                    start = time.monotonic()
                    try:
                        reply |= h.acquire(cmd.get('args', {}))
                    except portalocker.AlreadyLocked as exc:
                        pid = getattr(exc, 'holder_pid', None)
                        if pid is None and h.type == 'PidFileLock':
                            pid = h.obj.read_pid()  # what fail_closed() does
                        reply['holder_pid'] = pid
                        raise
                elif op == 'release':
                    h.release()
                elif op == 'write':
                    h.file.write(cmd['data'])  # the file object acquire returned
                    h.file.flush()
                elif op == 'read_pid':
                    reply['pid'] = h.obj.read_pid()
                elif op == 'probe':
                    reply |= h.probe(cmd.get('args', {}))
                elif op == 'ensure_held':
                    h.redis().ensure_held()
                else:
                    reply |= increment(h, cmd)
            elif op == 'open_atomic':
                with portalocker.open_atomic(cmd['path'], binary=False) as f:
                    f.write(cmd['data'])
                    if cmd.get('hold'):
                        send({'id': cmd.get('id'), 'event': 'open'})
                        cont = json.loads(stdin.readline())
                        assert cont['op'] == 'continue', cont
            else:
                raise NotExposed(f'unknown op {op}')
            reply.setdefault('ok', 'error' not in reply)
        except NotExposed as exc:
            reply |= {'ok': False, 'error': 'NotExposed', 'message': str(exc)}
        except Exception as exc:  # noqa: BLE001 - every error is an answer
            reply |= {'ok': False, 'error': canonical(exc),
                      'message': f'{type(exc).__name__}: {exc}'}
            if reply['error'].startswith('Other:'):
                reply['trace'] = traceback.format_exc()
        reply['elapsed'] = time.monotonic() - start
        send(reply)


if __name__ == '__main__':
    main()

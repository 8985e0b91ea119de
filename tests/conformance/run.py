#!/usr/bin/env python3
"""Cross-language conformance runner: the same lock scenarios played by every
binding, alone and mixed, against real processes.

Plays every scenario of tests/conformance/scenarios/*.json with real agent
processes (one per role), first with every role in one language, then with
the roles spread across languages (every ordered pair for two-role
scenarios, rotations for larger ones), the reference portalocker included.
Prints the matrix and closes with exactly ``N passed, N failed``.

Run with the CI venv's python (``bash ci/venv.sh``), after ``make``,
``make conformance-agent`` and ``bash ci/ffi-agents.sh`` (the Node, Go, Java
and Rust agents); ``make conformance`` does all of it. ``--windows`` (or
``-l win-...``) plays the file-lock scenarios with the Windows agents under
wine instead, once ci/tests.d/windows.sh has built them and the prefix.
The format of scenarios and the agent protocol: tests/conformance/README.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import fnmatch
import itertools
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, 'build')
AGENTS = os.path.join(HERE, 'agents')
# The bindings (and the reference), then the runtimes that load the shared
# library through an FFI library alone (agents/{node,go,java,rust}, built
# by ci/ffi-agents.sh). A two-role scenario pairs every binding with every
# other language; the FFI runtimes all reach the same C ABI, so they are
# paired with the bindings and the reference, not with each other.
BINDINGS = ['c', 'python', 'ruby', 'lua', 'ref']
FFI = ['node', 'go', 'java', 'rust']
LANGS = BINDINGS + FFI
LIBRARY = os.path.join(BUILD, 'libportalocker.so.1')
FFI_BUILT = os.path.join(BUILD, 'conformance')
IN_CI = os.environ.get('CI') == 'true'
# The Windows agents, run under wine (chosen explicitly: -l win-c ... or
# --windows; never part of the default matrix): the C agent cross-built
# against the DLL, the Python agent on CPython for Windows with our
# binding and with the reference (its default MsvcrtLocker), the Lua
# agent on lua.exe. Built by ci/tests.d/windows.sh (make
# windows-conformance-agents, windows-python; the prefix under
# build/win). Their locks are LockFileEx ranges kept by the wineserver,
# unrelated to the Linux flock/fcntl locks, so Windows and Linux agents are
# never paired; each language name is its Linux twin's with "win-".
WINDOWS = ['win-c', 'win-python', 'win-ref', 'win-lua']
ALL_LANGS = LANGS + WINDOWS
WIN_BUILD = os.path.join(BUILD, 'win')
WIN_PYTHON = os.path.join(WIN_BUILD, 'python', 'org', 'bytedeco', 'cpython', 'windows-x86_64', 'python.exe')

# Canonical error hierarchy: an expected error E accepts E or a subclass
# of E (as ``except E`` would).
PARENT = {
    'AlreadyLocked': 'LockException', 'NotHeld': 'LockException',
    'InvalidArgument': 'LockException', 'InvalidState': 'LockException',
    'LockLost': 'LockException', 'ConnectionError': 'LockException',
    'FileToLarge': 'LockException', 'Unsupported': 'LockException',
}


def error_matches(expected: str, got: str | None) -> bool:
    while got is not None:
        if got == expected:
            return True
        got = PARENT.get(got)
    return False


# ---------------------------------------------------------------- agents --

def agent_command(lang: str) -> tuple[list[str], dict[str, str]] | str:
    """The command line and environment of a language's agent, or why it
    cannot run (its binding is not built)."""
    env = dict(os.environ)
    if lang == 'c':
        exe = os.path.join(BUILD, 'conformance', 'agent_c')
        if not os.access(exe, os.X_OK):
            return 'build/conformance/agent_c is not built (make conformance-agent)'
        return [exe], env
    if lang == 'python':
        if not os.path.isfile(os.path.join(BUILD, 'python', 'cportalocker', '.built')):
            return 'build/python/cportalocker is not built (make python-binding)'
        env['PYTHONPATH'] = os.path.join(BUILD, 'python')
        return [sys.executable, os.path.join(AGENTS, 'agent_python.py'), '--impl', 'cportalocker'], env
    if lang == 'ref':
        import importlib.util
        if importlib.util.find_spec('portalocker') is None:
            return f'the reference portalocker is not importable by {sys.executable} (bash ci/venv.sh)'
        env.pop('PYTHONPATH', None)
        return [sys.executable, os.path.join(AGENTS, 'agent_python.py'), '--impl', 'portalocker'], env
    if lang == 'ruby':
        libdir = os.path.join(BUILD, 'ruby')
        if not os.path.isfile(os.path.join(libdir, '.built')):
            return 'build/ruby is not built (the Ruby binding)'
        return ['ruby', '-I', libdir, os.path.join(AGENTS, 'agent.rb')], env
    if lang == 'lua':
        libdir = os.path.join(BUILD, 'lua')
        if not os.path.isfile(os.path.join(libdir, '.built')):
            return 'build/lua is not built (the Lua binding)'
        env['LUA_CPATH'] = f'{libdir}/?.so;' + env.get('LUA_CPATH', ';')
        env['LUA_PATH'] = f'{libdir}/?.lua;{libdir}/?/init.lua;' + env.get('LUA_PATH', ';')
        return ['lua5.4', os.path.join(AGENTS, 'agent.lua')], env
    if lang in FFI:
        return ffi_agent_command(lang, env)
    if lang in WINDOWS:
        return windows_agent_command(lang, env)
    raise ValueError(lang)


def wine_path(path: str) -> str:
    """A Linux path as Windows programs under wine name it (Z: is /)."""
    return 'Z:' + os.path.abspath(path).replace('/', '\\')


def wine_prefix() -> str:
    return os.environ.get('WINEPREFIX') or os.path.join(WIN_BUILD, 'wineprefix')


def windows_agent_command(lang: str, env: dict[str, str]) -> tuple[list[str], dict[str, str]] | str:
    """A Windows agent under wine, with the environment of
    ci/tests.d/windows.sh: its prefix, quiet, headless, and TMPDIR unset
    (the wineserver would read it as a Linux path). `wine` execs the
    loader, so the process started is the Windows process itself: a kill
    of its pid kills the agent."""
    if shutil.which('wine') is None:
        return 'wine is not installed (ci/setup.sh)'
    if not os.path.isdir(os.path.join(wine_prefix(), 'drive_c')):
        return f'no wine prefix at {wine_prefix()} (ci/tests.d/windows.sh makes it)'
    # PYTHONDONTWRITEBYTECODE too: the Windows Python keeps its compiled
    # standard library in build/win (a start under wine takes 0.3 s with
    # it, 1.5 s without).
    for key in ('TMPDIR', 'DISPLAY', 'WAYLAND_DISPLAY', 'PYTHONPATH', 'LUA_PATH', 'LUA_CPATH',
                'PYTHONDONTWRITEBYTECODE'):
        env.pop(key, None)
    env.update(WINEPREFIX=wine_prefix(), WINEDEBUG='-all', WINEDLLOVERRIDES='mscoree=;mshtml=')
    if lang == 'win-c':
        exe = os.path.join(WIN_BUILD, 'conformance', 'agent_c.exe')
        if not os.path.isfile(exe):
            return 'build/win/conformance/agent_c.exe is not built (make windows-conformance-agents)'
        return ['wine', exe], env
    if lang in ('win-python', 'win-ref'):
        if not os.path.isfile(WIN_PYTHON):
            return 'no CPython for Windows in build/win/python (bash ci/win/python.sh)'
        if lang == 'win-python':
            pkg, impl = os.path.join(WIN_BUILD, 'python-pkg'), 'cportalocker'
            marker = os.path.join(pkg, 'cportalocker', '.built')
            hint = 'make windows-python'
        else:
            pkg, impl = os.path.join(WIN_BUILD, 'refpkg'), 'portalocker'
            marker = os.path.join(pkg, 'portalocker', '__init__.py')
            hint = 'ci/tests.d/windows.sh copies the reference there'
        if not os.path.isfile(marker):
            return f'{os.path.relpath(os.path.dirname(marker), ROOT)} is missing ({hint})'
        env['PYTHONPATH'] = wine_path(pkg)
        return ['wine', WIN_PYTHON, wine_path(os.path.join(AGENTS, 'agent_python.py')), '--impl', impl], env
    if lang == 'win-lua':
        libdir = os.path.join(WIN_BUILD, 'lua')
        if not all(os.path.isfile(os.path.join(libdir, f))
                   for f in ('.built', 'cjson.dll', 'lua.exe')):
            return 'build/win/lua has no lua.exe, binding or cjson.dll (make windows-conformance-agents)'
        env['LUA_CPATH'] = wine_path(libdir) + '\\?.dll'
        env['LUA_PATH'] = wine_path(libdir) + '\\?.lua'
        return ['wine', os.path.join(libdir, 'lua.exe'), wine_path(os.path.join(AGENTS, 'agent.lua'))], env
    raise ValueError(lang)


def ffi_agent_command(lang: str, env: dict[str, str]) -> tuple[list[str], dict[str, str]] | str:
    """An FFI agent: the library is given by path, nothing of ours is
    linked into the agent."""
    if not os.path.isfile(LIBRARY):
        return f'{LIBRARY} is not built (make lib)'
    hint = f'build/conformance has no {lang} agent (bash ci/ffi-agents.sh {lang})'
    if lang == 'node':
        modules = os.path.join(FFI_BUILT, 'node', 'node_modules')
        if not os.path.isdir(os.path.join(modules, 'koffi')) or shutil.which('node') is None:
            return hint
        env['NODE_PATH'] = modules
        return ['node', os.path.join(AGENTS, 'node', 'agent.js'), LIBRARY], env
    if lang == 'java':
        java = os.path.join(FFI_BUILT, 'java')
        if not os.path.isfile(os.path.join(java, 'classes', 'Agent.class')) or shutil.which('java') is None:
            return hint
        # A JVM per role, as every agent is a process of its own (the
        # runner kills and freezes roles, POSIX locks are per process):
        # C1 only and the serial collector start it fastest on 2 cores;
        # JNA's native part was unpacked at build time.
        return ['java', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xshare:auto',
                '-Djna.encoding=UTF-8', '-Djna.nounpack=true',
                f'-Djna.boot.library.path={os.path.join(java, "native")}',
                '-cp', f'{java}/classes:{java}/lib/*', 'Agent', LIBRARY], env
    exe = os.path.join(FFI_BUILT, f'agent_{lang}')
    if not os.access(exe, os.X_OK):
        return hint
    return [exe, LIBRARY], env


class StepError(Exception):
    pass


class Agent:
    """One agent process; a thread collects its JSON lines."""

    def __init__(self, role: str, lang: str, rundir: str, logdir: str) -> None:
        self.role, self.lang = role, lang
        cmd = agent_command(lang)
        if isinstance(cmd, str):
            raise StepError(f'{role}={lang}: {cmd}')
        argv, env = cmd
        if lang == 'win-lua':
            # standard Lua has no process id: on Windows the agent takes
            # the one the core writes into a PID file of its own, here
            env['PL_AGENT_PIDFILE'] = wine_path(os.path.join(logdir, f'agent-{role}.pid'))
        self.stderr_path = os.path.join(logdir, f'agent-{role}.stderr')
        self.stderr = open(self.stderr_path, 'w')
        # Under wine, Python cannot set up a standard stream that is a
        # regular file (WinError 6): a Windows agent's stderr is a pipe,
        # copied to the file.
        windows = lang in WINDOWS
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if windows else self.stderr,
            env=env, cwd=rundir, text=True, bufsize=1, start_new_session=True)
        self.err_copier: threading.Thread | None = None
        if windows:
            self.err_copier = threading.Thread(target=self._copy_stderr, daemon=True)
            self.err_copier.start()
        self.replies: dict[str, tuple[float, dict]] = {}
        self.events: dict[str, float] = {}
        self.cond = threading.Condition()
        self.eof = False
        self.garbage: list[str] = []
        self.killed = False
        self.pid: int | None = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _copy_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.write(line)
            self.stderr.flush()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            t = time.monotonic()
            try:
                msg = json.loads(line)
            except ValueError:
                with self.cond:
                    self.garbage.append(line.rstrip())
                continue
            with self.cond:
                if 'event' in msg:
                    self.events[str(msg.get('id'))] = t
                else:
                    self.replies[str(msg.get('id'))] = (t, msg)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def send(self, msg: dict) -> float:
        assert self.proc.stdin is not None
        t = time.monotonic()  # before: nothing can answer earlier
        try:
            self.proc.stdin.write(json.dumps(msg) + '\n')
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise StepError(f'{self.role}={self.lang}: cannot send {msg.get("op")}: {exc}; {self.tail()}')
        return t

    def tail(self) -> str:
        try:
            with open(self.stderr_path) as f:
                lines = [ln.rstrip() for ln in f if ln.strip()]
        except OSError:
            lines = []
        extra = f' stdout garbage: {self.garbage[-2:]}' if self.garbage else ''
        return ('stderr: ' + ' | '.join(lines[-3:]) if lines else 'no stderr') + extra

    def wait(self, key: str, timeout: float, event: bool = False) -> tuple[float, dict | None]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                store = self.events if event else self.replies
                if key in store:
                    return (store[key], None) if event else store[key]
                if self.eof:
                    rc = self.proc.poll()
                    raise StepError(f'{self.role}={self.lang}: agent exited (rc {rc}) before answering '
                                    f'{key}; {self.tail()}')
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StepError(f'{self.role}={self.lang}: no answer to {key} within {timeout:g} s')
                self.cond.wait(left)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.killed = True

    def signal(self, signum: int) -> None:
        """SIGSTOP / SIGCONT the agent's whole process group (every thread
        of it: a frozen process, not a slow one)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signum)
        self.stopped = signum == signal.SIGSTOP

    def close(self) -> None:
        if getattr(self, 'stopped', False):
            self.signal(signal.SIGCONT)
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"id": "exit", "op": "exit"}\n')  # type: ignore[union-attr]
                self.proc.stdin.close()  # type: ignore[union-attr]
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.reader.join(5)
        if self.err_copier is not None:
            self.err_copier.join(5)
        self.stderr.close()


# ----------------------------------------------------------------- redis --

class RedisServer:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix='pl-conformance-redis.')
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> None:
        if shutil.which('redis-server') is None:
            raise RuntimeError('redis-server is not installed (run ci/setup.sh)')
        for _ in range(5):
            s = socket.socket()
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
            s.close()
            proc = subprocess.Popen(
                ['redis-server', '--port', str(port), '--bind', '127.0.0.1', '--save', '',
                 '--appendonly', 'no', '--dir', self.dir, '--logfile', os.path.join(self.dir, 'redis.log'),
                 '--daemonize', 'no'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(100):
                try:
                    with socket.create_connection(('127.0.0.1', port), 0.2) as c:
                        c.sendall(b'PING\r\n')
                        if c.recv(16).startswith(b'+PONG'):
                            self.proc, self.port = proc, port
                            return
                except OSError:
                    pass
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
            proc.kill()
            proc.wait()
        raise RuntimeError('could not start redis-server')

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------ wineserver --

class Wineserver:
    """The prefix's wineserver, persistent (-p) for the whole matrix and in
    a session of its own: started by the first agent instead, it would be
    in that run's process group (killed with it) and would exit whenever
    no Windows program runs, racing with the next one connecting. One
    already running (ci/tests.d/windows.sh starts one) is used and left
    running; one started here is stopped at the end."""

    def __init__(self) -> None:
        self.started = False

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ('TMPDIR', 'DISPLAY', 'WAYLAND_DISPLAY')}
        env['WINEPREFIX'] = wine_prefix()
        return env

    def start(self) -> str:
        # exit status 0: started; 2: one already serves this prefix
        rc = subprocess.run(['wineserver', '-p'], env=self.env(), start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode
        if rc not in (0, 2):
            raise RuntimeError(f'wineserver -p failed (exit status {rc})')
        self.started = rc == 0
        return f'{"started" if self.started else "already running"} (persistent) for {wine_prefix()}'

    def stop(self) -> None:
        if self.started:
            subprocess.run(['wineserver', '-k'], env=self.env(), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.started = False


# -------------------------------------------------------------- scenarios --

def load_scenarios() -> dict[str, dict]:
    out = {}
    sdir = os.path.join(HERE, 'scenarios')
    for fn in sorted(os.listdir(sdir)):
        if fn.endswith('.json'):
            with open(os.path.join(sdir, fn)) as f:
                out[fn[:-5]] = json.load(f)
    return out


def needs_redis(sc: dict) -> bool:
    return any(spec.get('type') == 'RedisLock' for spec in sc.get('locks', {}).values())


def windows_skip(sc: dict) -> str | None:
    """Why a scenario is not played by the Windows agents (None: it is).
    They play the file locks; not the Redis lock (ci/tests.d/windows.sh
    tests it on Windows), not a choice of lock mechanism (flock/posix:
    Windows has one, LockFileEx), not SIGSTOP/SIGCONT (no such signals)."""
    if 'skip' in sc.get('windows', {}):
        return sc['windows']['skip']
    if needs_redis(sc):
        return 'the Redis lock (tested on Windows by ci/tests.d/windows.sh)'
    specs = list(sc.get('locks', {}).values()) + [st.get('with', {}) for st in sc['steps']]
    if any('mechanism' in spec for spec in specs):
        return 'a lock mechanism (flock/posix): Windows has one, LockFileEx'
    if any('stop' in st or 'cont' in st for st in sc['steps']):
        return 'SIGSTOP/SIGCONT: Windows has no such signals'
    return None


def windows_assignments(sc: dict, langs: list[str]) -> list[tuple[str, ...]]:
    """The Windows agents' runs: each language alone (but the reference:
    alone under wine it exercises wine's msvcrt.locking, not this library,
    and meets that CRT's errno bug at every contended step; it plays in
    the mixed runs), then the rotations of the language list over the
    roles (each language in each role once, every run mixing distinct
    languages; for two roles that is four of the twelve ordered pairs:
    under wine every Python start costs CPU), then the scenario's
    `windows.assignments.explicit`. A scenario's `languages` applies to
    the Windows twins (win-X plays where X does)."""
    if not langs or windows_skip(sc) is not None:
        return []
    roles = sc['roles']
    allowed = sc.get('languages')
    usable = [lang for lang in langs if allowed is None or lang[len('win-'):] in allowed]
    policy = sc.get('windows', {}).get('assignments', {})
    out: list[tuple[str, ...]] = []
    if policy.get('singles', True):
        out += [(lang,) * len(roles) for lang in usable if lang != 'win-ref']
    if policy.get('mixed', True) and len(usable) > 1:
        out += [tuple(usable[(i + off) % len(usable)] for i in range(len(roles)))
                for off in range(len(usable))]
    for explicit in policy.get('explicit', []):
        t = tuple(explicit)
        if all(lang in langs for lang in t) and t not in out:
            out.append(t)
    return out


def assignments(sc: dict, langs: list[str]) -> list[tuple[str, ...]]:
    """The Linux languages' runs (linux_assignments) and the Windows
    agents' (windows_assignments): never one mixing the two."""
    return (linux_assignments(sc, [lang for lang in langs if lang not in WINDOWS]) +
            windows_assignments(sc, [lang for lang in langs if lang in WINDOWS]))


def linux_assignments(sc: dict, langs: list[str]) -> list[tuple[str, ...]]:
    """Single-language runs, then every ordered pair (two roles) or the
    rotations of the language list over the roles (more roles), then any
    explicit assignments the scenario lists."""
    if not langs:
        return []
    roles = sc['roles']
    usable = [lang for lang in sc.get('languages', LANGS) if lang in langs]
    policy = sc.get('assignments', {})
    out: list[tuple[str, ...]] = []
    if policy.get('singles', True):
        out += [(lang,) * len(roles) for lang in usable]
    if policy.get('mixed', True) and len(usable) > 1:
        if len(roles) == 2:
            out += [pair for pair in itertools.permutations(usable, 2)
                    if pair[0] in BINDINGS or pair[1] in BINDINGS]
        else:
            out += [tuple(usable[(i + off) % len(usable)] for i in range(len(roles)))
                    for off in range(len(usable))]
    for explicit in policy.get('explicit', []):
        t = tuple(explicit)
        if all(lang in langs for lang in t) and t not in out:
            out.append(t)
    return out


class Run:
    """One scenario played with one language assignment."""

    def __init__(self, name: str, sc: dict, assign: tuple[str, ...], redis_port: int) -> None:
        self.name, self.sc, self.assign = name, sc, assign
        self.redis_port = redis_port
        self.roles = dict(zip(sc['roles'], assign))
        self.agents: dict[str, Agent] = {}
        self.pending: dict[str, str] = {}      # role -> async step id
        self.steps: dict[str, dict] = {}       # step id -> step
        self.answers: dict[str, tuple[float, dict]] = {}
        self.sent: dict[str, float] = {}       # step id -> when it was sent
        self.tag = uuid.uuid4().hex[:12]

    def label(self) -> str:
        return ' '.join(f'{r}={lang}' for r, lang in self.roles.items())

    def path(self, rel: str) -> str:
        return os.path.join(self.dir, rel)

    def agent_path(self, role: str, rel: str | None = None) -> str:
        """A scenario path (default: the run directory) as the role's agent
        names it: Z:\\... for a Windows agent (the runner's own checks
        keep the Linux path)."""
        full = self.dir if rel is None else self.path(rel)
        return wine_path(full) if self.roles[role] in WINDOWS else full

    def lock_spec(self, step: dict) -> dict:
        base = dict(self.sc['locks'][step['lock']])
        base.update(step.get('with', {}))
        for key in ('path', 'directory'):
            if key in base:
                base[key] = self.agent_path(step['role'], base[key])
        if base.get('type') == 'RedisLock':
            base['channel'] = f'conformance-{self.tag}-{base.get("channel", step["lock"])}'
            base['host'], base['port'] = '127.0.0.1', self.redis_port
        if base.get('type') == 'BoundedSemaphore':
            base.setdefault('directory', self.agent_path(step['role']))
        return base

    def execute(self) -> tuple[str, str]:
        self.top = tempfile.mkdtemp(prefix=f'pl-conf-{self.name}.')
        self.dir = os.path.join(self.top, 'work')  # the scenario's files only
        os.mkdir(self.dir)
        try:
            for entry in self.sc.get('setup', []):
                with open(self.path(entry['write'][0]), 'w') as f:
                    f.write(entry['write'][1])
            for role, lang in self.roles.items():
                self.agents[role] = Agent(role, lang, self.dir, self.top)
            for role, agent in self.agents.items():
                agent.send({'id': 'hello', 'op': 'hello'})
            for role, agent in self.agents.items():
                _, msg = agent.wait('hello', 30)
                if not msg or not msg.get('ok'):
                    raise StepError(f'{role}={agent.lang}: hello failed: {msg}; {agent.tail()}')
                agent.pid = msg['pid']
            for n, step in enumerate(self.sc['steps']):
                self.step(n, step)
            for role, sid in list(self.pending.items()):
                raise StepError(f'scenario bug: step {sid} of {role} was never waited for')
            return 'pass', ''
        except StepError as exc:
            return 'fail', str(exc)
        finally:
            for agent in self.agents.values():
                agent.close()
            if os.environ.get('PL_CONFORMANCE_KEEP') != '1':
                shutil.rmtree(self.top, ignore_errors=True)

    # -- steps --
    def step(self, n: int, step: dict) -> None:
        sid = step.get('id', f'#{n + 1}')
        if 'sleep' in step:
            time.sleep(step['sleep'])
        elif 'kill' in step:
            role = step['kill']
            if role in self.pending:
                self.pending.pop(role)
            self.sent[sid] = time.monotonic()
            self.agents[role].kill()
            self.answers[sid] = (time.monotonic(), {})
        elif 'stop' in step or 'cont' in step:
            role = step.get('stop') or step['cont']
            self.sent[sid] = time.monotonic()
            self.agents[role].signal(signal.SIGSTOP if 'stop' in step else signal.SIGCONT)
            self.answers[sid] = (time.monotonic(), {})
        elif 'at_most_one' in step:
            # never two holders: of these (answered) acquires at most one
            # succeeded
            won = [s for s in step['at_most_one'] if self.answers[s][1].get('ok')]
            if len(won) > 1:
                raise StepError(f'check {sid}: {won} all acquired the same lock')
        elif 'wait' in step:
            target = step['wait']
            st = self.steps[target]
            role = st['role']
            t, msg = self.agents[role].wait(target, st.get('deadline', 30))
            self.pending.pop(role, None)
            self.answers[target] = (t, msg)
            self.check(target, st, t, msg)
        elif 'wait_event' in step:
            target = step['wait_event']
            st = self.steps[target]
            self.agents[st['role']].wait(target, st.get('deadline', 30), event=True)
        elif 'wait_open' in step:
            self.wait_open(step['wait_open'])
        elif 'wait_subscribers' in step:
            self.wait_subscribers(step['wait_subscribers'], step['n'])
        elif 'check' in step:
            self.check_files(sid, step['check'])
        elif 'do' in step:
            self.agent_step(sid, step)
        else:
            raise StepError(f'scenario bug: step {sid} has no action')

    def wait_open(self, target: str) -> None:
        """Until the agent of async step `target` has that step's lock file
        open (its /proc/<pid>/fd): its acquire has begun, and the agents
        start their clock before the open. A fixed sleep instead would let
        a slow start of the agent shorten what its acquire waits. A Windows
        agent's files are the wineserver's: the sleep that follows stays its
        only synchronisation."""
        st = self.steps[target]
        agent = self.agents[st['role']]
        if agent.lang in WINDOWS:
            return
        want = os.path.realpath(self.path(self.sc['locks'][st['lock']]['path']))
        fds = f'/proc/{agent.proc.pid}/fd'
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with agent.cond:
                if target in agent.replies or agent.eof:
                    return  # answered already: the wait checks the answer
            try:
                for fd in os.listdir(fds):
                    with contextlib.suppress(OSError):
                        if os.readlink(os.path.join(fds, fd)) == want:
                            return
            except OSError:
                pass
            time.sleep(0.01)
        raise StepError(f'step {target} ({st["role"]}={agent.lang}): its lock file was not '
                        f'opened within 10 s')

    def wait_subscribers(self, lock: str, n: int) -> None:
        """Until the Redis channel of `lock` has n subscribers (PUBSUB
        NUMSUB): a waiting writer has announced itself. A fixed sleep
        instead would let a slow start of the writer go unseen."""
        channel = self.lock_spec({'lock': lock, 'role': self.sc['roles'][0]})['channel'].encode()
        cmd = b'*3\r\n$6\r\nPUBSUB\r\n$6\r\nNUMSUB\r\n$%d\r\n%s\r\n' % (len(channel), channel)
        have = None
        deadline = time.monotonic() + 10
        with socket.create_connection(('127.0.0.1', self.redis_port), 5) as c:
            f = c.makefile('rb')
            while time.monotonic() < deadline:
                c.sendall(cmd)
                # *2, $len, the channel, :count
                lines = [f.readline() for _ in range(4)]
                have = int(lines[3][1:])
                if have >= n:
                    return
                time.sleep(0.01)
        raise StepError(f'channel of {lock}: {have} subscribers after 10 s, expected {n}')

    def agent_step(self, sid: str, step: dict) -> None:
        role = step['role']
        agent = self.agents[role]
        if agent.killed:
            raise StepError(f'scenario bug: step {sid}: role {role} was killed')
        op = step['do']
        if op == 'continue':
            agent.send({'id': sid, 'op': 'continue'})
            return
        if role in self.pending:
            raise StepError(f'scenario bug: step {sid}: role {role} is busy with {self.pending[role]}')
        cmd: dict = {'id': sid, 'op': op}
        if 'lock' in step:
            cmd['handle'] = step.get('handle', step['lock'])
            cmd['lock'] = self.lock_spec(step)
        if 'args' in step:
            cmd['args'] = step['args']
        for key in ('n', 'data', 'hold'):
            if key in step:
                cmd[key] = step[key]
        for key in ('counter', 'path'):
            if key in step:
                cmd[key] = self.agent_path(role, step[key])
        self.steps[sid] = step
        self.sent[sid] = agent.send(cmd)
        if step.get('async'):
            self.pending[role] = sid
            return
        t, msg = agent.wait(sid, step.get('deadline', 30))
        # retry_for: asked again (every 0.1 s) until the answer is the
        # expected one or that many seconds have passed: for what another
        # thread of the agent notices in its own time (a loss seen after a
        # SIGCONT), which a fixed sleep before the step would race.
        until = self.sent[sid] + step.get('retry_for', 0)
        attempt = 0
        while True:
            self.answers[sid] = (t, msg)
            try:
                self.check(sid, step, t, msg)
                return
            except StepError:
                if time.monotonic() >= until:
                    raise
            attempt += 1
            time.sleep(0.1)
            rid = f'{sid}.retry{attempt}'
            agent.send(dict(cmd, id=rid))
            t, msg = agent.wait(rid, step.get('deadline', 30))

    def check(self, sid: str, step: dict, t: float, msg: dict | None) -> None:
        assert msg is not None
        role = step['role']
        who = f'step {sid} ({role}={self.roles[role]} {step["do"]})'
        exp = step.get('expect', {'ok': True})
        got = 'ok' if msg.get('ok') else f'{msg.get("error")}: {msg.get("message", "")}'.strip()
        if 'one_of' in exp:
            # a race: any of these outcomes ("ok" or error names)
            if not (('ok' in exp['one_of'] and msg.get('ok')) or
                    (not msg.get('ok') and any(error_matches(e, msg.get('error'))
                                               for e in exp['one_of'] if e != 'ok'))):
                raise StepError(f'{who}: expected one of {exp["one_of"]}, got {got}')
        elif 'error' in exp:
            if msg.get('ok') or not error_matches(exp['error'], msg.get('error')):
                raise StepError(f'{who}: expected {exp["error"]}, got {got}')
        elif not msg.get('ok'):
            raise StepError(f'{who}: expected ok, got {got}')
        elapsed = msg.get('elapsed')
        if 'elapsed' in exp:
            lo, hi = exp['elapsed']
            if elapsed is None or (lo is not None and elapsed < lo) or (hi is not None and elapsed > hi):
                raise StepError(f'{who}: elapsed {elapsed:.3f} s outside [{lo}, {hi}]')
        if 'after' in exp:
            # [step, max]: answered at most max s after that step's answer,
            # and not before that step was even sent (a lock taken while
            # still held).
            other, hi = exp['after']
            if t < self.sent[other]:
                raise StepError(f'{who}: answered before step {other} was sent (taken while still held)')
            t0 = self.answers[other][0]
            if t - t0 > hi:
                raise StepError(f'{who}: answered {t - t0:.3f} s after step {other}, more than {hi} s')
        for key in ('holder_pid', 'pid'):
            if key in exp:
                want = self.agents[exp[key]].pid
                if msg.get(key) != want:
                    raise StepError(f'{who}: {key} {msg.get(key)!r}, expected {want} (role {exp[key]})')
        if 'holders' in exp:
            # a probe's holder ids: exactly those of the listed acquire
            # steps that succeeded
            want = sorted(self.answers[s][1]['holder_id'] for s in exp['holders']
                          if self.answers[s][1].get('ok'))
            listed = msg.get('holders') or []  # an empty Lua table arrives as {}
            have = sorted(h['holder_id'] for h in listed)
            if have != want:
                raise StepError(f'{who}: holders {have}, expected {want} (steps {exp["holders"]})')
            if 'modes' in exp and sorted(h['mode'] for h in listed) != sorted(exp['modes']):
                raise StepError(f'{who}: modes {[h["mode"] for h in listed]}, expected {exp["modes"]}')
        if 'fence_token' in exp:
            token = msg.get('fence_token')
            if exp['fence_token'] and not (isinstance(token, int) and token >= 1):
                raise StepError(f'{who}: fence_token {token!r}, expected a token')
            if not exp['fence_token'] and token is not None:
                raise StepError(f'{who}: fence_token {token!r}, expected none')
        if 'fence_above' in exp:
            # fencing tokens increase strictly in grant order, whichever
            # implementation drew them
            token, before = msg.get('fence_token'), self.answers[exp['fence_above']][1].get('fence_token')
            if not (isinstance(token, int) and isinstance(before, int) and token > before):
                raise StepError(f'{who}: fence_token {token!r} is not above {before!r} '
                                f'(step {exp["fence_above"]})')
        if 'slot' in exp and msg.get('slot') not in exp['slot']:
            raise StepError(f'{who}: slot {msg.get("slot")!r} not in {exp["slot"]}')
        if 'slot_differs' in exp:
            other = self.answers[exp['slot_differs']][1].get('slot')
            if msg.get('slot') == other:
                raise StepError(f'{who}: slot {msg.get("slot")} is also held by step {exp["slot_differs"]}')

    def check_files(self, sid: str, chk: dict) -> None:
        for rel in chk.get('exists', []):
            if not os.path.exists(self.path(rel)):
                raise StepError(f'check {sid}: {rel} does not exist')
        for rel in chk.get('absent', []):
            if os.path.exists(self.path(rel)):
                raise StepError(f'check {sid}: {rel} exists')
        for rel, want in chk.get('content', {}).items():
            try:
                with open(self.path(rel)) as f:
                    have = f.read()
            except OSError as exc:
                raise StepError(f'check {sid}: {rel}: {exc}')
            if have.strip() != str(want):
                raise StepError(f'check {sid}: {rel} holds {have.strip()[:40]!r}, expected {want!r}')
        for rel, want in chk.get('listing', {}).items():
            # An entry may be a glob pattern (a random temporary name):
            # each entry of the directory must match exactly one of them.
            have = sorted(os.listdir(self.path(rel)))
            left = list(have)
            for pattern in sorted(want):
                hit = next((h for h in left if fnmatch.fnmatchcase(h, pattern)), None)
                if hit is None:
                    left = None
                    break
                left.remove(hit)
            if left != []:
                raise StepError(f'check {sid}: {rel}/ holds {have}, expected {sorted(want)}')


# --------------------------------------------------------------- matrix --

def load_known() -> dict[str, dict[str, dict]]:
    with open(os.path.join(HERE, 'known_failures.json')) as f:
        data = json.load(f)
    return {lang: v for lang, v in data.items() if not lang.startswith('_')}


def judge(name: str, roles: list[str], assign: tuple[str, ...], status: str,
          reason: str, known: dict) -> tuple[str, str]:
    """Apply the known-failure list: a listed failure with the listed
    cause is XFAIL; a listed one that passes (XPASS) or fails otherwise
    is a failure. An entry applies when its language plays any role of the
    run, or only the roles it lists under "roles"."""
    entries = []
    for lang in dict.fromkeys(assign):
        entry = known.get(lang, {}).get(name)
        if entry is None:
            continue
        played = {r for r, a in zip(roles, assign) if a == lang}
        if 'roles' in entry and not played & set(entry['roles']):
            continue
        entries.append((lang, entry))
    if not entries or status not in ('pass', 'fail'):
        return status, reason
    if status == 'pass':
        langs = ', '.join(lang for lang, _ in entries)
        return 'xpass', f'listed in known_failures.json for {langs} but passes: remove the entry'
    for lang, entry in entries:
        # "match": a substring of the failure, or a list of them (one known
        # cause showing as different messages, whichever step meets it)
        matches = entry['match'] if isinstance(entry['match'], list) else [entry['match']]
        if any(m in reason for m in matches):
            return 'xfail', f'known ({lang}): {entry["reason"]}'
    return 'fail', reason + ' [known failure listed, but this is a different failure]'


SYMBOL = {'pass': 'ok', 'fail': 'FAIL', 'xfail': 'xfail', 'xpass': 'XPASS', 'notbuilt': 'n/b'}


def print_matrix(results: list[tuple], scenarios: dict, langs: list[str]) -> None:
    by_scn: dict[str, list[tuple]] = {}
    for r in results:
        by_scn.setdefault(r[0], []).append(r)
    print('\n== matrix: scenario x assignment')
    for name in scenarios:
        rows = by_scn.get(name, [])
        if not rows:
            continue
        roles = scenarios[name]['roles']
        print(f'\n-- {name} ({len(roles)} roles: {" ".join(roles)})')
        for _, assign, status, reason, dur in rows:
            label = ' '.join(f'{r}={lang}' for r, lang in zip(roles, assign))
            line = f'  {SYMBOL[status]:<5} {label:<44} {dur:5.2f}s'
            if reason and status != 'pass':
                line += f'  {reason}'
            print(line)
        if len(roles) == 2:
            cell = {r[1]: SYMBOL[r[2]] for r in rows}
            used = [lang for lang in langs if any(lang in r[1] for r in rows)]
            print('     A\\B   ' + ''.join(f'{lang:<7}' for lang in used))
            for a in used:
                print(f'     {a:<7} ' + ''.join(f'{cell.get((a, b), "-"):<7}' for b in used))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('-j', '--jobs', type=int, default=int(os.environ.get('PL_CONFORMANCE_JOBS', '5')))
    ap.add_argument('-k', '--scenario', action='append', help='glob of scenario names')
    ap.add_argument('-l', '--lang', action='append', choices=ALL_LANGS,
                    help='only these languages (the Windows ones, win-*, only when named)')
    ap.add_argument('--windows', action='store_true',
                    help=f'the Windows agents under wine ({", ".join(WINDOWS)}), with any -l languages')
    args = ap.parse_args()

    scenarios = load_scenarios()
    if args.scenario:
        scenarios = {n: s for n, s in scenarios.items()
                     if any(fnmatch.fnmatch(n, pat) for pat in args.scenario)}
    langs = list(dict.fromkeys((args.lang or ([] if args.windows else LANGS)) +
                               (WINDOWS if args.windows else [])))
    known = load_known()

    missing = {lang: why for lang in langs if isinstance(why := agent_command(lang), str)}
    for lang, why in missing.items():
        verdict = 'FAILURE (CI=true)' if IN_CI else 'not built (outside CI: reported, not run)'
        print(f'{lang}: {why}: {verdict}')

    plan = [(name, sc, a) for name, sc in scenarios.items() for a in assignments(sc, langs)]
    if any(lang in WINDOWS for lang in langs):
        for name, sc in scenarios.items():
            if (not_played := windows_skip(sc)) is not None:
                print(f'windows: not played: {name}: {not_played}')
    wine = Wineserver()
    redis = RedisServer()
    results: list[tuple] = []
    started = time.monotonic()

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        if any(needs_redis(sc) for _, sc, _ in plan):
            redis.start()
            print(f'redis-server on 127.0.0.1:{redis.port}')
        if any(lang in WINDOWS and lang not in missing for _, _, a in plan for lang in a):
            print(f'wineserver: {wine.start()}')

        def play(item: tuple) -> tuple:
            name, sc, assign = item
            t0 = time.monotonic()
            absent = [lang for lang in dict.fromkeys(assign) if lang in missing]
            if absent:
                why = '; '.join(f'{lang}: {missing[lang]}' for lang in absent)
                status = 'fail' if IN_CI else 'notbuilt'
                return name, assign, status, why, 0.0
            status, reason = Run(name, sc, assign, redis.port).execute()
            status, reason = judge(name, sc['roles'], assign, status, reason, known)
            return name, assign, status, reason, time.monotonic() - t0

        # Heaviest first so that the long runs do not trail at the end.
        plan.sort(key=lambda item: -item[1].get('weight', 1))
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            for res in pool.map(play, plan):
                results.append(res)
                if res[2] in ('fail', 'xpass'):
                    print(f'FAIL {res[0]} [{" ".join(res[1])}]: {res[3]}', flush=True)
    finally:
        redis.stop()
        wine.stop()

    order = {name: i for i, name in enumerate(scenarios)}
    results.sort(key=lambda r: (order[r[0]], [ALL_LANGS.index(x) for x in r[1]]))
    print_matrix(results, scenarios, langs)
    print('\n== summary per scenario (ok / FAIL / xfail / n/b)')
    for name in scenarios:
        rows = [r for r in results if r[0] == name]
        if rows:
            c = {k: sum(1 for r in rows if r[2] == k) for k in SYMBOL}
            print(f'  {name:<24} {c["pass"]:3d} ok  {c["fail"] + c["xpass"]:3d} FAIL  '
                  f'{c["xfail"]:3d} xfail  {c["notbuilt"]:3d} n/b')
    count = {s: sum(1 for r in results if r[2] == s) for s in SYMBOL}
    print(f'\nruntime {time.monotonic() - started:.1f} s, {len(results)} runs, jobs {args.jobs}')
    if count['xfail']:
        print(f'known failures (listed in known_failures.json, not counted as passed): {count["xfail"]}')
    if count['notbuilt']:
        print(f'not built (not run, not counted as passed): {count["notbuilt"]}')
    failed = count['fail'] + count['xpass']
    print(f'{count["pass"]} passed, {failed} failed')
    return 1 if failed or (not count['pass']) else 0


if __name__ == '__main__':
    sys.exit(main())

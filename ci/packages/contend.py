"""One side of a cross-language lock handoff (ci/packages/installed.sh).

    contend.py hold|take LOCK SYNC INSTALLED

hold: take LOCK, create SYNC/ready, wait for SYNC/go, keep it 0.2 s more,
release. take: wait for SYNC/ready, fail to take LOCK at once (another
process holds it), create SYNC/go, then take it within 10 s. The package
must be loaded from under INSTALLED.
"""
import os
import sys
import time

import cportalocker as portalocker


def wait_for(path):
    deadline = time.monotonic() + 20
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            sys.exit(f'python: {path} never appeared')
        time.sleep(0.01)


mode, lock_path, sync, installed = sys.argv[1:5]
where = os.path.realpath(portalocker.__file__)
if not where.startswith(os.path.realpath(installed) + os.sep):
    sys.exit(f'python: cportalocker came from {where}, not {installed}')
ready, go = os.path.join(sync, 'ready'), os.path.join(sync, 'go')
if mode == 'hold':
    with portalocker.Lock(lock_path, timeout=5):
        open(ready, 'w').close()
        wait_for(go)
        time.sleep(0.2)
else:
    wait_for(ready)
    try:
        portalocker.Lock(lock_path, fail_when_locked=True).acquire()
    except portalocker.AlreadyLocked:
        pass
    else:
        sys.exit('python: took a lock another process holds')
    open(go, 'w').close()
    start = time.monotonic()
    with portalocker.Lock(lock_path, timeout=10):
        waited = time.monotonic() - start
    print(f'python: waited {waited:.2f} s for the holder, then took the lock '
          f'(cportalocker {portalocker.__version__} from {os.path.dirname(where)})')

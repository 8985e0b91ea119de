"""The Python worker of the polyglot demo (cportalocker, the reference API)."""
import os
import sys
import time

import cportalocker as portalocker


def say(what):
    t = (time.time() - float(os.environ.get('DEMO_T0', '0'))) * 1e3
    print(f'{t:7.1f} ms  Python pid {os.getpid():<7d} {what}', flush=True)


directory = sys.argv[1]
say('waits for demo.lock')
with portalocker.Lock(os.path.join(directory, 'demo.lock'), timeout=30):
    say('HOLDS demo.lock')
    time.sleep(0.15)
    say('releases demo.lock')

semaphore = portalocker.NamedBoundedSemaphore(2, name='demo', directory=directory, timeout=30)
with semaphore as slot_lock:
    slot = int(os.path.basename(slot_lock.filename).split('.')[1])
    say(f'HOLDS semaphore slot {slot} of 2')
    time.sleep(0.3)
    say(f'releases slot {slot}')

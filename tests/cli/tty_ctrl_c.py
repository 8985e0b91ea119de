"""Ctrl-C typed at a terminal reaches the command once (the terminal
signals the whole foreground process group; portalock must not forward a
second copy). Runs portalock on a pseudo-terminal, types ^C, and prints
how many SIGINTs the command saw (its exit status).
argv: portalock lockfile readyfile [trap|notrap]; with notrap the command
dies of the ^C and so must portalock (prints -2).
The command runs until 1 s after its first SIGINT (time for a wrongly
forwarded second copy to arrive), or 20 s if none comes: a fixed run time
would let a slow machine end it before the ^C was typed."""
import os
import pty
import sys
import time

portalock, lockfile, ready, mode = sys.argv[1:5]
trap = "trap 'n=$((n+1)); end=$((i+20))' INT; " if mode == "trap" else ""
script = ("n=0; i=0; end=400; " + trap + "touch %s; "
          "while [ $i -lt $end ]; do sleep 0.05; i=$((i+1)); done; exit $n" % ready)
pid, master = pty.fork()
if pid == 0:
    os.execvp(portalock, [portalock, lockfile, "sh", "-c", script])
for _ in range(200):
    if os.path.exists(ready):
        break
    time.sleep(0.05)
time.sleep(0.1)
os.write(master, b"\x03")
while True:
    try:
        if not os.read(master, 1024):
            break
    except OSError:
        break
_, status = os.waitpid(pid, 0)
print(os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status))

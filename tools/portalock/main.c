/* portalock: parse, take the lock, run the command, release, exit with
   flock(1)'s status. Every path out releases what was taken. */
#define _GNU_SOURCE
#include "portalock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    cli o;
    held h;
    int rc, sig;
    double start = 0;

    if (argc > 1 && strcmp(argv[1], "who") == 0)
        return who_main(argc - 1, argv + 1);

    cli_parse(argc, argv, &o);
    waits_install();
    waits_arm(o.have_timeout && !o.nonblock, o.timeout);
    if (o.verbose)
        start = now_seconds();
    rc = lock_take(&o, &h);
    waits_disarm();
    if (rc != 0) {
        lock_drop(&h);
        if (rc < 0 || waits_signal())
            die_by_signal(waits_signal());
        return rc == CONFLICT_ZERO ? 0 : rc;
    }
    /* A signal that arrived just as the lock was taken still means stop. */
    if ((sig = waits_signal()) != 0) {
        lock_drop(&h);
        die_by_signal(sig);
    }
    if (o.verbose) {
        double took = now_seconds() - start;
        printf("portalock: getting lock took %.6f seconds\n", took);
        fflush(stdout);
    }
    if (!o.cmd) /* descriptor form: the lock stays with the descriptor */
        return 0;
    rc = run_command(&o, &h);
    lock_drop(&h);
    if (rc < 0)
        die_by_signal(-rc);
    return rc;
}

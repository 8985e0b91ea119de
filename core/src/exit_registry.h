/*
 * Work that must happen when the process exits normally or the library is
 * unloaded: removing the files of temporary and PID-file locks still held
 * (the reference's atexit handler). The kernel drops the OS locks itself.
 * Entries are embedded in the objects they belong to; the registry knows
 * nothing of locks.
 */
#ifndef PL_EXIT_REGISTRY_H
#define PL_EXIT_REGISTRY_H

typedef struct pl__exit_entry {
    void (*fn)(void *arg);
    void *arg;
    struct pl__exit_entry *next;
    int registered;
} pl__exit_entry;

/* Register e (no-op if it already is): fn(arg) runs at exit. */
void pl__exit_registry_add(pl__exit_entry *e, void (*fn)(void *arg),
                           void *arg);
/* Unregister e (no-op if it is not). */
void pl__exit_registry_remove(pl__exit_entry *e);

#endif

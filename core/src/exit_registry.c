/* The exit registry (exit_registry.h): a list under a mutex, run by the
   platform's unload hook. */
#include "exit_registry.h"

#include "platform.h"

#include <stddef.h>

static pl__os_mutex registry_mutex = PL__OS_MUTEX_INIT;
static pl__os_once_t hook_once = PL__OS_ONCE_INIT;
static pl__exit_entry *registry_head;

static void run_registry(void)
{
    pl__exit_entry *e;
    pl__os_mutex_lock(&registry_mutex);
    for (e = registry_head; e; e = e->next)
        e->fn(e->arg);
    pl__os_mutex_unlock(&registry_mutex);
}

static void install_hook(void)
{
    pl__os_at_unload(run_registry);
}

void pl__exit_registry_add(pl__exit_entry *e, void (*fn)(void *arg),
                           void *arg)
{
    pl__os_once(&hook_once, install_hook);
    pl__os_mutex_lock(&registry_mutex);
    if (!e->registered) {
        e->fn = fn;
        e->arg = arg;
        e->next = registry_head;
        registry_head = e;
        e->registered = 1;
    }
    pl__os_mutex_unlock(&registry_mutex);
}

void pl__exit_registry_remove(pl__exit_entry *e)
{
    pl__exit_entry **p;
    pl__os_mutex_lock(&registry_mutex);
    if (e->registered) {
        for (p = &registry_head; *p; p = &(*p)->next) {
            if (*p == e) {
                *p = e->next;
                break;
            }
        }
        e->registered = 0;
        e->next = NULL;
    }
    pl__os_mutex_unlock(&registry_mutex);
}

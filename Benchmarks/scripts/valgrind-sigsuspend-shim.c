/*
 * Preloaded under valgrind 3.19 only (scripts/callgrind-calls.sh).
 *
 * An async Swift main ends in libdispatch's dispatch_main(), whose signal
 * thread calls sigsuspend() with a mask in read-only memory. valgrind 3.19
 * edits that mask in place and dies with SIGSEGV. Passing a copy lets the
 * process run under callgrind; nothing else changes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>

int sigsuspend(const sigset_t *mask) {
    static int (*real)(const sigset_t *);
    if (!real) real = (int (*)(const sigset_t *))dlsym(RTLD_NEXT, "sigsuspend");
    sigset_t copy = *mask;
    return real(&copy);
}

#ifndef CORT_CZEROMQ_SHIM_H
#define CORT_CZEROMQ_SHIM_H
#include <zmq.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <dirent.h>
#endif

/* A wake-up channel for the reactor: an eventfd on Linux (one descriptor),
   a nonblocking pipe elsewhere. fds[0] is polled for reading, fds[1] written. */
static inline int cort_wakefd_open(int fds[2]) {
#ifdef __linux__
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return -1;
    fds[0] = fd;
    fds[1] = fd;
    return 0;
#else
    if (pipe(fds) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
#endif
}

/* Returns 0, or -1 with errno set. A full pipe/counter (EAGAIN) still means
   "readable", so it counts as success. */
static inline int cort_wakefd_signal(int fd) {
#ifdef __linux__
    uint64_t one = 1;
    for (;;) {
        ssize_t n = write(fd, &one, sizeof one);
        if (n == (ssize_t)sizeof one) return 0;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        return -1;
    }
#else
    unsigned char one = 1;
    for (;;) {
        ssize_t n = write(fd, &one, 1);
        if (n == 1) return 0;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        return -1;
    }
#endif
}

/* Empties the wake-up channel so the next poll can sleep again. */
static inline void cort_wakefd_drain(int fd) {
    unsigned char buffer[64];
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        return;
    }
}

/* Sleeps until the wake-up channel is readable or timeout_ms passed (-1:
   no limit), then empties it. Returns 1 if it was signalled, 0 otherwise. */
static inline int cort_wakefd_wait(int fd, int timeout_ms) {
    struct pollfd item = { .fd = fd, .events = POLLIN, .revents = 0 };
    int result;
    do { result = poll(&item, 1, timeout_ms); } while (result < 0 && errno == EINTR);
    if (result > 0) { cort_wakefd_drain(fd); return 1; }
    return 0;
}

/* Whether fd is readable now, without waiting; 1 on an error too (the
   caller then asks the slow way). */
static inline int cort_fd_readable_now(int fd) {
    struct pollfd item = { .fd = fd, .events = POLLIN, .revents = 0 };
    int result;
    do { result = poll(&item, 1, 0); } while (result < 0 && errno == EINTR);
    return result != 0;
}

static inline void cort_wakefd_close(int fds[2]) {
    close(fds[0]);
    if (fds[1] != fds[0]) close(fds[1]);
}

/* Names the calling thread (Linux keeps 15 bytes) for ps/top/debuggers. */
static inline void cort_set_thread_name(const char *name) {
#ifdef __linux__
    prctl(PR_SET_NAME, name, 0, 0, 0);
#elif defined(__APPLE__)
    pthread_setname_np(name);
#endif
}

static void *cort_ctx_term_main(void *context) {
    cort_set_thread_name("cort-zmq-term");
    while (zmq_ctx_term(context) == -1 && zmq_errno() == EINTR) {}
    return NULL;
}

/* Terminates a context whose sockets are all closed on a detached thread of
   its own: zmq_ctx_term waits out the sockets' linger, which must not hold
   the caller's thread (often one of Swift's few cooperative threads). Falls
   back to terminating here when no thread can be made. */
static inline void cort_ctx_term_detached(void *context) {
    pthread_t thread;
    pthread_attr_t attributes;
    if (pthread_attr_init(&attributes) == 0) {
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        int created = pthread_create(&thread, &attributes, cort_ctx_term_main, context);
        pthread_attr_destroy(&attributes);
        if (created == 0) return;
    }
    cort_ctx_term_main(context);
}

/* CPU time consumed so far by the calling thread, in nanoseconds (-1 on failure). */
static inline long long cort_thread_cpu_nanoseconds(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return -1;
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Linux's SCHED_BATCH (glibc defines it only under _GNU_SOURCE; the value is
   the kernel's ABI), or -1 where there is no such policy. */
#ifdef __linux__
#define CORT_SCHED_BATCH 3
#else
#define CORT_SCHED_BATCH -1
#endif

static void *cort_sched_batch_probe_main(void *result) {
    struct sched_param parameters = {0};
    *(int *)result = pthread_setschedparam(pthread_self(), CORT_SCHED_BATCH, &parameters);
    return NULL;
}

/* Whether a new thread of this process may switch itself to SCHED_BATCH, as
   libzmq's threads do when a context asks for it: libzmq aborts the process
   when that fails, so a context asks only after a throwaway thread could. */
static inline int cort_sched_batch_allowed(void) {
    if (CORT_SCHED_BATCH < 0) return 0;
    pthread_t thread;
    int result = -1;
    if (pthread_create(&thread, NULL, cort_sched_batch_probe_main, &result) != 0) return 0;
    pthread_join(thread, NULL);
    return result == 0;
}

/* The ids of this process's threads whose name starts with `prefix`, at most
   `capacity` of them into `ids`; how many matched, or -1 where threads cannot
   be listed (not Linux, no /proc). */
static inline int cort_threads_named(const char *prefix, int *ids, int capacity) {
#ifdef __linux__
    DIR *tasks = opendir("/proc/self/task");
    if (tasks == NULL) return -1;
    size_t length = strlen(prefix);
    int found = 0;
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", entry->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        char name[32];
        ssize_t count = read(fd, name, sizeof name - 1);
        close(fd);
        if (count <= 0) continue;
        name[count] = 0;
        if (strncmp(name, prefix, length) != 0) continue;
        if (found < capacity) ids[found] = atoi(entry->d_name);
        found++;
    }
    closedir(tasks);
    return found;
#else
    (void)prefix; (void)ids; (void)capacity;
    return -1;
#endif
}

/* What the scheduler says of thread `tid` of this process: whether it is
   runnable now (running or waiting for a CPU), and so far the time it ran,
   the time it waited on a run queue (counted when a wait ends, as the thread
   gets a CPU) and how many times it got a CPU. */
typedef struct {
    int runnable;
    long long ran_ns;
    long long waited_ns;
    long long slices;
} cort_thread_sample;

/* Reads `out` from /proc/self/task/<tid>/stat and .../schedstat; 0, or -1
   when unknown (no such thread, no scheduler statistics, not Linux). */
static inline int cort_thread_sample_read(int tid, cort_thread_sample *out) {
#ifdef __linux__
    char path[64];
    char text[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t count = read(fd, text, 96);
    close(fd);
    if (count <= 0) return -1;
    text[count] = 0;
    unsigned long long ran = 0, waited = 0, slices = 0;
    if (sscanf(text, "%llu %llu %llu", &ran, &waited, &slices) != 3) return -1;
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    count = read(fd, text, sizeof text - 1);
    close(fd);
    if (count <= 0) return -1;
    text[count] = 0;
    /* "tid (name) S ...": the name may hold spaces and parentheses. */
    char *end = strrchr(text, ')');
    if (end == NULL || end[1] != ' ' || end[2] == 0) return -1;
    out->runnable = end[2] == 'R';
    out->ran_ns = (long long)ran;
    out->waited_ns = (long long)waited;
    out->slices = (long long)slices;
    return 0;
#else
    (void)tid; (void)out;
    return -1;
#endif
}

#endif

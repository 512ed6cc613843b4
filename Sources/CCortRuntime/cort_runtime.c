#include "cort_runtime.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#if __has_attribute(swiftcall)
#define CORT_SWIFTCALL __attribute__((swiftcall))
#else
#error "the Swift calling convention is needed to call the Swift runtime"
#endif

/* The Swift runtime's declarations (swift/Runtime/Concurrency.h and
   swift/ABI/Executor.h): a job is opaque here; an executor reference is two
   words, both zero for the generic executor. */
typedef CORT_SWIFTCALL void (*cort_enqueue_original)(void *job);
typedef CORT_SWIFTCALL void (*cort_enqueue_hook)(void *job, cort_enqueue_original original);
typedef struct {
    void *identity;
    uintptr_t implementation;
} cort_serial_executor_ref;

extern cort_enqueue_hook swift_task_enqueueGlobal_hook;
extern CORT_SWIFTCALL void swift_job_run(void *job, cort_serial_executor_ref executor);

static _Thread_local void **captured_jobs;
static _Thread_local size_t captured_capacity;
static _Thread_local size_t captured_count;
static _Thread_local bool in_watched_job;
/* A hook set before cort's, which cort's passes the jobs it does not keep to. */
static cort_enqueue_hook previous_hook;
static atomic_bool install_started;

static CORT_SWIFTCALL void cort_enqueue_global(void *job, cort_enqueue_original original) {
    if (captured_jobs != NULL && captured_count < captured_capacity) {
        captured_jobs[captured_count++] = job;
        return;
    }
    if (previous_hook != NULL) {
        previous_hook(job, original);
    } else {
        original(job);
    }
}

void cort_global_jobs_install(void) {
    if (atomic_exchange(&install_started, true)) return;
    previous_hook = swift_task_enqueueGlobal_hook;
    swift_task_enqueueGlobal_hook = cort_enqueue_global;
}

bool cort_global_jobs_installed(void) {
    return swift_task_enqueueGlobal_hook == cort_enqueue_global;
}

void cort_global_jobs_capture_begin(void **jobs, size_t capacity) {
    captured_count = 0;
    captured_capacity = capacity;
    captured_jobs = jobs;
}

size_t cort_global_jobs_capture_end(void) {
    captured_jobs = NULL;
    captured_capacity = 0;
    return captured_count;
}

void cort_global_job_run(void *job) {
    cort_serial_executor_ref generic = {0, 0};
    swift_job_run(job, generic);
}

bool cort_global_jobs_capturing(void) {
    return captured_jobs != NULL;
}

void cort_watched_job_begin(void) { in_watched_job = true; }
void cort_watched_job_end(void) { in_watched_job = false; }
bool cort_in_watched_job(void) { return in_watched_job; }

long long cort_monotonic_nanoseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

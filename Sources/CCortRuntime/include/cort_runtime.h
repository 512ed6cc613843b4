#ifndef CORT_RUNTIME_H
#define CORT_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

/* Jobs the Swift runtime enqueues on its global executor, taken on one
   thread while that thread asks for them.

   The Swift concurrency runtime calls `swift_task_enqueueGlobal_hook`, when
   one is set, for every job it would hand its global executor (Dispatch on
   Linux): a task resumed from a continuation, a task started without an
   executor. cort sets one hook, once per process, that passes every job on
   (to a hook set before it, else to the runtime's own enqueue) unless the
   calling thread is between `cort_global_jobs_capture_begin` and `_end`:
   then the job is kept in that thread's buffer, up to its capacity, for the
   thread to run itself with `cort_global_job_run`. A reactor does that while
   it reads answers: the caller each answer resumes goes on on the thread
   that read it, not on a pool thread woken for it. */

/* Sets the hook, once per process; later calls do nothing. */
void cort_global_jobs_install(void);

/* Whether the hook is the one in place (another library may have replaced it since). */
bool cort_global_jobs_installed(void);

/* Keeps the jobs this thread enqueues on the global executor in `jobs`, at
   most `capacity` of them (the rest go on as usual), until
   `cort_global_jobs_capture_end`. Not nested. */
void cort_global_jobs_capture_begin(void **jobs, size_t capacity);

/* Stops keeping jobs on this thread; returns how many were kept. */
size_t cort_global_jobs_capture_end(void);

/* Whether this thread keeps its global jobs now (between begin and end). */
bool cort_global_jobs_capturing(void);

/* Runs a kept job on this thread as the global executor would (the generic
   executor: no actor, no task executor). */
void cort_global_job_run(void *job);

/* Marks this thread as running a job that a reactor's watchdog may take the
   loop from (it may lose the loop at any moment until it is done). */
void cort_watched_job_begin(void);
void cort_watched_job_end(void);
bool cort_in_watched_job(void);

/* CLOCK_MONOTONIC in nanoseconds. */
long long cort_monotonic_nanoseconds(void);

#endif

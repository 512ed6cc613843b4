/* The C echo server in a process of its own: the baseline for cort's calls
 * between processes. A ROUTER bound on the endpoint given (default
 * tcp://127.0.0.1:*) echoes every message back to its sender, on the main
 * thread, as a hand-written C server would.
 *
 *   cort-echo-server [ENDPOINT]
 *
 * It prints "ready <endpoint>" once bound, and exits on SIGTERM (the default
 * action) or when its standard input reaches end-of-file, so that it never
 * outlives the benchmark that started it, even one that crashed. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <zmq.h>

static void *watch_stdin(void *arg) {
    (void)arg;
    char buffer[256];
    for (;;) {
        ssize_t got = read(STDIN_FILENO, buffer, sizeof buffer);
        if (got == 0 || (got < 0 && errno != EINTR)) _exit(0);
    }
    return NULL;
}

int main(int argc, char **argv) {
    const char *requested = argc > 1 ? argv[1] : "tcp://127.0.0.1:*";
    void *context = zmq_ctx_new();
    void *router = zmq_socket(context, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    char endpoint[256];
    size_t size = sizeof endpoint;
    if (zmq_bind(router, requested) != 0
        || zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &size) != 0) {
        fprintf(stderr, "cort-echo-server: cannot bind %s: %s\n", requested, zmq_strerror(zmq_errno()));
        return 1;
    }
    pthread_t watcher;
    if (pthread_create(&watcher, NULL, watch_stdin, NULL) != 0) return 1;
    printf("ready %s\n", endpoint);
    fflush(stdout);
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, router, 0) < 0) {
            zmq_msg_close(&part);
            if (errno == EINTR) continue;
            break;
        }
        int more = zmq_msg_more(&part);
        if (zmq_msg_send(&part, router, more ? ZMQ_SNDMORE : 0) < 0) {
            zmq_msg_close(&part);
            if (errno == EINTR) continue;
            break;
        }
    }
    zmq_close(router);
    zmq_ctx_term(context);
    return 0;
}

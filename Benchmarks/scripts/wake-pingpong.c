// What one thread waking another costs on this machine: two threads pass a
// token back and forth through two eventfds (each read blocks until the
// other thread writes), so every round trip is two wake-ups of a sleeping
// thread. Run it as it is (the threads may sit on different CPUs) and under
// `taskset -c 0` (one CPU: a wake-up is a switch on the same CPU):
//
//     cc -O2 -pthread -o /tmp/wake-pingpong scripts/wake-pingpong.c
//     /tmp/wake-pingpong; taskset -c 0 /tmp/wake-pingpong
//
// On a virtual machine, waking a thread on an idle virtual CPU costs an
// interrupt to it and its exit from the halted state, which dwarfs the
// switch itself; a round trip of typed calls pays it once per thread it
// passes through (see README.md, "Sockets the reactor's loop reads itself").
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int toPeer, toMain;
static long rounds = 200000;

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static void pass(int from, int to) {
    uint64_t token;
    if (read(from, &token, sizeof token) != sizeof token) exit(1);
    token = 1;
    if (write(to, &token, sizeof token) != sizeof token) exit(1);
}

static void *peer(void *unused) {
    (void)unused;
    for (long i = 0; i < rounds; i++) pass(toPeer, toMain);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1) rounds = atol(argv[1]);
    toPeer = eventfd(0, 0);
    toMain = eventfd(0, 0);
    if (toPeer < 0 || toMain < 0) return 1;
    pthread_t thread;
    if (pthread_create(&thread, NULL, peer, NULL) != 0) return 1;
    uint64_t token = 1;
    double start = seconds();
    for (long i = 0; i < rounds; i++) {
        if (write(toPeer, &token, sizeof token) != sizeof token) return 1;
        if (read(toMain, &token, sizeof token) != sizeof token) return 1;
        token = 1;
    }
    double elapsed = seconds() - start;
    pthread_join(thread, NULL);
    printf("%ld round trips, %.2f µs each (two wake-ups)\n", rounds, elapsed * 1e6 / (double)rounds);
    return 0;
}

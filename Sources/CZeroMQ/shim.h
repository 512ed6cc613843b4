#ifndef CORT_CZEROMQ_SHIM_H
#define CORT_CZEROMQ_SHIM_H
#include <zmq.h>
#include <errno.h>
#endif

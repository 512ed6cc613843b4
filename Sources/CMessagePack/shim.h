#ifndef CORT_CMESSAGEPACK_SHIM_H
#define CORT_CMESSAGEPACK_SHIM_H
#include <msgpack.h>
#endif

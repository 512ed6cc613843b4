#ifndef CORT_CCURL_SHIM_H
#define CORT_CCURL_SHIM_H
#include <curl/curl.h>
#endif

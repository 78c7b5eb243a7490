/* The one clock of mend: monotonic seconds for progress, ETA and timings. */
#include <time.h>

#include "mend/mend.h"

double mend_clock_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

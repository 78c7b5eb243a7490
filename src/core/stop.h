/* The stop request (include/mend/mend.h: mend_stop) of the job running on
 * this thread, polled between the blocks of the UNet and the VAE so that
 * Interrupt and Skip take effect within one block instead of one model
 * call. The UNet and VAE run their blocks on the caller's thread, so a
 * thread-local binding reaches them without a parameter through every
 * forward function. */
#ifndef MEND_CORE_STOP_H
#define MEND_CORE_STOP_H

#include "core/err.h"
#include "mend/mend.h"

/* Binds `s` (NULL: none) to the calling thread; returns the previous one. */
mend_stop *mend_stop_bind(mend_stop *s);

/* MEND_OK, or the pending request (MEND_E_INTERRUPTED, or MEND_E_SKIPPED
 * when `with_skip`) as a failure in err. One relaxed load when nothing is
 * bound or pending: cheap enough for every block. */
mend_status mend_stop_poll(int with_skip, mend_err *err);

/* Turns the stop that ended a batch into MEND_OK (other statuses pass): a
 * Skip is used up; an Interrupt sets *interrupted and unbinds the request,
 * as the job ends with this batch, whose finishing decode must not stop on
 * the same Interrupt again. */
mend_status mend_stop_honour(mend_status s, int *interrupted);

#endif

/* libsls — the application API of SLS.
 *
 * One public header for the whole library. Each half of the API lives in its own header,
 * included from here, so that a program only ever needs #include <sls.h>:
 *   nvh.h      the persistent heap (standalone, unprivileged: needs no SLS daemon and no root).
 *   sls_ctl.h  self-checkpoints through SLS (attach, checkpoint, restored?) over its control socket.
 */
#ifndef SLS_H
#define SLS_H

#include "nvh.h"
#include "sls_ctl.h"

#endif /* SLS_H */

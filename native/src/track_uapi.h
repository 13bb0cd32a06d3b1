/*
 * track_uapi.h — kernel UAPI the dirty-page tracker needs and Debian 12's headers lack.
 *
 * PAGEMAP_SCAN (linux/fs.h, Linux 6.7) comes from the engine's pagemap_scan.h; the userfaultfd
 * features are from include/uapi/linux/userfaultfd.h (UFFD_FEATURE_WP_UNPOPULATED 6.7,
 * UFFD_FEATURE_WP_ASYNC 6.7, UFFD_USER_MODE_ONLY 5.11). Each block is guarded by its feature name,
 * so it is inert with newer headers.
 */
#ifndef SLS_TRACK_UAPI_H
#define SLS_TRACK_UAPI_H

#include <linux/fs.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

/* ---- linux/fs.h: PAGEMAP_SCAN ---------------------------------------------------------------- */
/* PAGEMAP_SCAN (struct pm_scan_arg, struct page_region, PAGE_IS_*, PM_SCAN_*): one definition for the
 * whole engine, in pagemap_scan.h. */
#include "pagemap_scan.h"

/* ---- linux/userfaultfd.h --------------------------------------------------------------------- */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

/* /proc/PID/pagemap entry bits (PM_PRESENT, PM_SWAPPED, PM_SOFTDIRTY) also come from pagemap_scan.h. */

#endif

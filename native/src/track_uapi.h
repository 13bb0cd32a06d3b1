/*
 * track_uapi.h — kernel UAPI the dirty-page tracker needs and Debian 12's headers lack.
 *
 * Values from the kernel's include/uapi/linux/fs.h (PAGEMAP_SCAN, Linux 6.7: struct pm_scan_arg,
 * struct page_region, PAGE_IS_*, PM_SCAN_*) and include/uapi/linux/userfaultfd.h
 * (UFFD_FEATURE_WP_UNPOPULATED 6.7, UFFD_FEATURE_WP_ASYNC 6.7, UFFD_USER_MODE_ONLY 5.11).
 * Each block is guarded by its ioctl/feature name, so it is inert with newer headers and agrees with
 * the engine's own pagemap_scan.h (same guard, same definitions) when both are included.
 */
#ifndef SLS_TRACK_UAPI_H
#define SLS_TRACK_UAPI_H

#include <linux/fs.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

/* ---- linux/fs.h: PAGEMAP_SCAN ---------------------------------------------------------------- */
#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED  (1 << 0)
#define PAGE_IS_WRITTEN    (1 << 1)
#define PAGE_IS_FILE       (1 << 2)
#define PAGE_IS_PRESENT    (1 << 3)
#define PAGE_IS_SWAPPED    (1 << 4)
#define PAGE_IS_PFNZERO    (1 << 5)
#define PAGE_IS_HUGE       (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)

struct page_region {
    __u64 start;
    __u64 end;
    __u64 categories;
};

#define PM_SCAN_WP_MATCHING   (1 << 0) /* write-protect the pages that match (atomically with the scan) */
#define PM_SCAN_CHECK_WPASYNC (1 << 1) /* EPERM on a VMA not registered for async write-protect */

struct pm_scan_arg {
    __u64 size;
    __u64 flags;
    __u64 start;
    __u64 end;
    __u64 walk_end;
    __u64 vec;
    __u64 vec_len;
    __u64 max_pages;
    __u64 category_inverted;
    __u64 category_mask;
    __u64 category_anyof_mask;
    __u64 return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

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

/* ---- /proc/PID/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst) ----------------- */
#define SLS_PM_PRESENT   (1ull << 63)
#define SLS_PM_SWAPPED   (1ull << 62)
#define SLS_PM_SOFTDIRTY (1ull << 55)

#endif

package org.sls.api.image;

/**
 * One mapping of a process as {@code /proc/PID/maps} shows it.
 *
 * @param perms the four maps flags, e.g. {@code "rw-p"} (the last one is p=private or s=shared)
 * @param path the backing file, a special name ({@code [heap]}, {@code [stack]}, {@code [vdso]},
 *             {@code [vvar]}, {@code [vvar_vclock]}, {@code [vsyscall]}), or empty for anonymous memory
 */
public record MemoryRegion(long start, long end, String perms, long offset, long inode, String path) {
    public long length() {
        return end - start;
    }

    public boolean shared() {
        return perms.length() > 3 && perms.charAt(3) == 's';
    }
}

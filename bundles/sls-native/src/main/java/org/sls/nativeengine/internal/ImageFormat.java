package org.sls.nativeengine.internal;

/**
 * Layout constants of the image format, mirroring native/include/sls_image.h (offsets in bytes,
 * little-endian). Only what the Java side reads is here; the rest of a record travels as opaque
 * {@code nativeState}.
 */
final class ImageFormat {
    static final int MAGIC = 0x49534c53; // "SLSI"
    static final int VERSION = 1;
    static final int HEADER_LEN = 32;
    static final int ENTRY_HEADER_LEN = 8;
    static final int ALIGN = 8;

    // header fields
    static final int H_MAGIC = 0;
    static final int H_VERSION = 4;
    static final int H_HEADER_LEN = 6;
    static final int H_TOTAL_LEN = 8;
    static final int H_CRC = 12;
    static final int H_PID = 16;
    static final int H_NENTRIES = 20;
    static final int H_REALTIME = 24;

    // tags
    static final int TAG_PROC = 1;
    static final int TAG_THREAD = 2;
    static final int TAG_SIGACT = 3;
    static final int TAG_PENDING = 4;
    static final int TAG_RLIMIT = 5;
    static final int TAG_VMA = 6;
    static final int TAG_PAGERUN = 7;
    static final int TAG_FD = 8;
    static final int TAG_ITIMER = 9;

    // struct sls_img_proc (264 bytes)
    static final int PROC_SIZE = 264;
    static final int PROC_PID = 0;
    static final int PROC_PPID = 4;
    static final int PROC_PGID = 8;
    static final int PROC_SID = 12;
    static final int PROC_NTHREADS = 16;
    static final int PROC_COMM = 32;
    static final int PROC_COMM_LEN = 16;
    static final int PROC_NGROUPS = 244;
    static final int PROC_EXE_LEN = 248;
    static final int PROC_CWD_LEN = 252;
    static final int PROC_ROOT_LEN = 256;
    static final int PROC_AUXV_LEN = 260;

    // struct sls_img_vma (72 bytes) + path
    static final int VMA_SIZE = 72;
    static final int VMA_START = 0;
    static final int VMA_END = 8;
    static final int VMA_PGOFF = 16;
    static final int VMA_INODE = 32;
    static final int VMA_PROT = 56;
    static final int VMA_FLAGS = 60;
    static final int VMA_KIND = 64;
    static final int VMA_PATH_LEN = 68;
    static final int VMA_SHARED = 0x1;
    static final int PROT_READ = 1;
    static final int PROT_WRITE = 2;
    static final int PROT_EXEC = 4;

    // struct sls_img_pagerun (24 bytes each)
    static final int PAGERUN_SIZE = 24;

    // struct sls_img_fd (88 bytes) + path + extra
    static final int FD_SIZE = 88;
    static final int FD_FD = 0;
    static final int FD_FILE_FLAGS = 8;
    static final int FD_TYPE = 12;
    static final int FD_POS = 16;
    static final int FD_PATH_LEN = 76;
    static final int FD_EXTRA_LEN = 80;

    // struct sls_img_fd_socket (48 bytes) + addr + peer
    static final int SOCK_SIZE = 48;
    static final int SOCK_FAMILY = 0;
    static final int SOCK_STATE = 12;
    static final int SOCK_ADDR_LEN = 36;
    static final int SOCK_PEER_LEN = 40;
    static final int SOCK_FLAGS = 44;
    static final int SOCK_CLOSED_ON_RESTORE = 0x1;

    static final int AF_UNIX = 1;
    static final int AF_INET = 2;
    static final int AF_INET6 = 10;

    /** enum sls_fd_type, index = value; names as {@link org.sls.api.image.FileDescriptorInfo} documents. */
    static final String[] FD_TYPE_NAMES = {
        "unknown", "file", "dir", "pipe", "fifo", "chr", "tty", "unix", "tcp", "udp",
        "eventfd", "epoll", "timerfd", "signalfd", "inotify", "memfd",
    };

    /** TCP state numbers (1..12) as ss/netstat name them. */
    static final String[] TCP_STATES = {
        "?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
        "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV",
    };

    static int pad(int n) {
        return (n + ALIGN - 1) & ~(ALIGN - 1);
    }

    private ImageFormat() {
    }
}

package org.sls.control.internal;

/** Who is on the other end of a control connection, as the kernel vouches for it (SO_PEERCRED). */
record PeerCredentials(int pid, int uid, int gid) {
    boolean root() {
        return uid == 0;
    }
}

package org.sls.api.image;

/**
 * One open file descriptor, as the engine classified it.
 *
 * @param type e.g. {@code file}, {@code dir}, {@code pipe}, {@code fifo}, {@code chr}, {@code tty},
 *             {@code unix}, {@code tcp}, {@code udp}, {@code eventfd}, {@code epoll}, {@code timerfd},
 *             {@code signalfd}, {@code inotify}, {@code memfd}
 * @param target path or description ({@code pipe:[1234]}, {@code 127.0.0.1:6379 LISTEN})
 */
public record FileDescriptorInfo(int fd, String type, String target, long position, int flags) {
}

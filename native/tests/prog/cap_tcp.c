/*
 * cap_tcp — holds an established TCP connection over loopback (which the engine cannot capture yet)
 * and keeps exchanging bytes over it. READY fd=<the connected fd>; on "q": PASS if every round trip
 * worked, before, during and after the failed capture.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof(a);
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4) ||
        getsockname(l, (struct sockaddr *)&a, &al)) {
        printf("FAIL listen: %s\n", strerror(errno));
        return 1;
    }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof(a))) {
        printf("FAIL connect: %s\n", strerror(errno));
        return 1;
    }
    int s = accept(l, NULL, NULL);
    printf("READY fd=%d listen=%d\n", c, l);
    const char *failure = NULL;
    for (unsigned rounds = 0;; rounds++) {
        char b = (char)rounds, r = 0;
        if (write(c, &b, 1) != 1 || read(s, &r, 1) != 1 || r != b)
            failure = "a round trip over the connection failed";
        struct pollfd p = { 0, POLLIN, 0 };
        int n = poll(&p, 1, 2);
        if (n < 0 && errno == EINTR)
            failure = "poll saw a spurious EINTR";
        if (n > 0)
            break;
    }
    if (failure) {
        printf("FAIL %s\n", failure);
        return 1;
    }
    printf("PASS\n");
    return 0;
}

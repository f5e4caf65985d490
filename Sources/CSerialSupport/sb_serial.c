// Kept apart from Swift: <asm/termbits.h> (termios2, BOTHER) clashes with <termios.h>, and Glibc's
// Swift overlay does not export posix_openpt/grantpt/unlockpt/ptsname_r.
#define _GNU_SOURCE
#include "sb_serial.h"

#include <asm/termbits.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

int sb_open_pty_master(char *slave_path, size_t slave_path_len) {
    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -1;
    if (grantpt(fd) != 0 || unlockpt(fd) != 0 || ptsname_r(fd, slave_path, slave_path_len) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int sb_set_custom_baud(int fd, unsigned int baud) {
    struct termios2 tio;
    if (ioctl(fd, TCGETS2, &tio) != 0) return -1;
    tio.c_cflag &= ~CBAUD;
    tio.c_cflag |= BOTHER;
    tio.c_ispeed = baud;
    tio.c_ospeed = baud;
    return ioctl(fd, TCSETS2, &tio);
}

long sb_get_baud(int fd) {
    struct termios2 tio;
    if (ioctl(fd, TCGETS2, &tio) != 0) return -1;
    return (long)tio.c_ospeed;
}

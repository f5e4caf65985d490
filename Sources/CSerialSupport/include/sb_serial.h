#ifndef SB_SERIAL_H
#define SB_SERIAL_H

#include <stddef.h>

/// Opens a new pseudo-terminal master (O_RDWR | O_NOCTTY | O_CLOEXEC), grants and unlocks its slave,
/// and writes the slave's path into `slave_path`. Returns the master fd, or -1 with errno set.
int sb_open_pty_master(char *slave_path, size_t slave_path_len);

/// Sets an arbitrary input and output baud rate on `fd` through termios2 / BOTHER, leaving every
/// other setting as it is. Returns 0, or -1 with errno set.
int sb_set_custom_baud(int fd, unsigned int baud);

/// Reads back the output baud rate through termios2. Returns the rate, or -1 with errno set.
long sb_get_baud(int fd);

#endif

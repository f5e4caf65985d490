// libudev as seen from Swift: device enumeration, parents and sysattrs, and the netlink monitor.
#ifndef SERIALBRIDGE_CUDEV_SHIM_H
#define SERIALBRIDGE_CUDEV_SHIM_H
#include <libudev.h>
#endif

#ifndef CLIBPQ_SHIM_H
#define CLIBPQ_SHIM_H
#include <libpq-fe.h>
/* Statements wait for their answers in an epoll set (PostgresSocketWaiter); Swift's Glibc
   module does not carry these headers. */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif
